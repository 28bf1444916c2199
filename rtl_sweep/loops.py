"""One prune-rewind loop (the paper's Algorithm 1), a level at a time, checkpointed. No Ray here.

    python -c "from rtl_sweep.loops import Loop; print(Loop('rtl', 3))"

A loop is one model pruned on one training target: an RTL ticket (subset k), an IMP-multiple copy
(subset k), or the IMP single model (all data); `rtl_sweep.methods` says how long each trains.
Level L rewinds to the shared start, trains with mask m_L, records the test outputs, and ranks the
trained weights to give m_{L+1}. Each level's result is one checkpoint file, so a loop killed
anywhere resumes at its first unfinished level with the same masks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from rtl_sweep import methods
from rtl_sweep.checkpoints import Loop
from rtl_sweep.context import RunContext
from rtl_sweep.pruning import Mask, ones_mask, prune, rewind
from rtl_sweep.serialize import tensor_bytes, tensor_load
from rtl_sweep.store import Store
from rtl_sweep.training import TrainTarget, derive_seed, new_state, predict_logits, train


def all_loops(ctx: RunContext) -> list[Loop]:
    """Every prune-rewind loop of the run, method by method."""
    out = []
    for m in methods.active(ctx.cfg):
        if m.loop:
            out += [Loop(m.loop, k) for k in range(ctx.K)] if m.per_subset else [Loop(m.loop)]
    return out


def loop_epochs(ctx: RunContext, loop: Loop) -> int:
    return methods.of_loop(loop.kind).epochs(ctx.cfg)


def target(ctx: RunContext, loop: Loop) -> TrainTarget:
    return ctx.task.ticket_target(ctx, loop.k) if loop.k >= 0 else ctx.task.single_target(ctx)


def level_mask(ctx: RunContext, store: Store, loop: Loop, level: int) -> Mask:
    if level == 0:
        return ones_mask(ctx.init_params, ctx.model.prunable)
    return load_level(store, loop, level - 1)["next_mask"]


def load_level(store: Store, loop: Loop, level: int) -> dict:
    return tensor_load(store.read_bytes(loop.ckpt(level)))


@dataclass
class Member:
    """One model's level, ready to train: its start mask, training target, epochs and seed, where
    its checkpoint goes, and what the checkpoint keeps beside the mask and the test outputs. The
    sequential path trains one member at a time; the fused path (rtl_sweep/vectorized.py) trains a
    stack of them at once."""

    ckpt: str
    mask: Mask
    target: TrainTarget
    epochs: int
    seed: int
    finish: Callable[[dict], dict]   # trained weights (CPU) -> extra checkpoint entries


def member(ctx: RunContext, store: Store, loop: Loop, level: int) -> Member:
    """Level `level` of `loop`: rewind under its mask, train, then rank for the next level's mask."""
    mask = level_mask(ctx, store, loop, level)

    def finish(trained: dict) -> dict:
        out = {}
        if level + 1 < ctx.levels:
            out["next_mask"] = prune(mask, trained, ctx.kept[level + 1], ctx.cfg.prune.ranking)
        if loop.kind == methods.IMP_SINGLE.loop:
            out["trained"] = trained  # the equal-parameter baseline prunes from these weights
        return out

    return Member(loop.ckpt(level), mask, target(ctx, loop), loop_epochs(ctx, loop),
                  derive_seed(ctx.cfg.seed, str(loop), "level", level), finish)


def equal_member(ctx: RunContext, store: Store, level: int, keep: int, rel: str) -> Member:
    """IMP single pruned to `keep` weights (RTL's mask union at `level`), checkpoint `rel`: take the
    single model's trained weights at the sparsest level that still keeps at least `keep`, prune
    them to `keep`, rewind and retrain with the same exposure."""
    single = Loop(methods.IMP_SINGLE.loop)
    src = max(i for i in range(ctx.levels) if ctx.kept[i] >= keep)
    ck = load_level(store, single, src)
    mask = prune(ck["mask"], ck["trained"], keep, ctx.cfg.prune.ranking)
    return Member(rel, mask, ctx.task.single_target(ctx), methods.IMP_SINGLE_EQUAL.epochs(ctx.cfg),
                  derive_seed(ctx.cfg.seed, methods.IMP_SINGLE_EQUAL.name, level),
                  lambda trained: {"source_level": torch.tensor(src)})


def run_member(ctx: RunContext, store: Store, m: Member) -> None:
    """Train one member alone and write its checkpoint."""
    params, bufs = new_state(rewind(ctx.rewind_params, m.mask), ctx.rewind_buffers, ctx.device,
                             ctx.model.memory_format)
    train(ctx.model, params, bufs, m.mask, m.target, ctx.x_train, m.epochs, ctx.cfg.prune.lr,
          ctx.cfg.prune.batch_size, m.seed, bf16=ctx.cfg.precision == "bf16")
    trained = {n: p.detach().cpu().contiguous() for n, p in params.items()}  # files keep one layout
    logits = predict_logits(ctx.model, params, bufs, m.mask, ctx.x_test)
    store.write_bytes(m.ckpt, tensor_bytes({"mask": m.mask, "logits": logits, **m.finish(trained)}))
