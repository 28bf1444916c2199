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

import torch

from rtl_sweep import methods
from rtl_sweep.context import RunContext
from rtl_sweep.pruning import Mask, ones_mask, prune, rewind
from rtl_sweep.serialize import tensor_bytes, tensor_load
from rtl_sweep.store import Store
from rtl_sweep.training import TrainTarget, derive_seed, new_state, predict_logits, train


@dataclass(frozen=True)
class Loop:
    kind: str      # the owning method's loop name: rtl | imp_multiple | imp_single
    k: int = -1    # subset id; -1 for the single model

    def __str__(self) -> str:
        return self.kind if self.k < 0 else f"{self.kind}-{self.k}"

    def ckpt(self, level: int) -> str:
        return f"ckpt/{self}/L{level}.pt"


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


def run_level(ctx: RunContext, store: Store, loop: Loop, level: int) -> None:
    """Train level `level` of `loop` and write its checkpoint."""
    mask = level_mask(ctx, store, loop, level)
    params, bufs = new_state(rewind(ctx.rewind_params, mask), ctx.rewind_buffers, ctx.device)
    train(ctx.model, params, bufs, mask, target(ctx, loop), ctx.x_train, loop_epochs(ctx, loop),
          ctx.cfg.prune.lr, ctx.cfg.prune.batch_size, derive_seed(ctx.cfg.seed, str(loop), "level", level))
    trained = {n: p.detach().cpu() for n, p in params.items()}
    out = {"mask": mask, "logits": predict_logits(ctx.model, params, bufs, mask, ctx.x_test)}
    if level + 1 < ctx.levels:
        out["next_mask"] = prune(mask, trained, ctx.kept[level + 1], ctx.cfg.prune.ranking)
    if loop.kind == methods.IMP_SINGLE.loop:
        out["trained"] = trained  # the equal-parameter baseline prunes from these weights
    store.write_bytes(loop.ckpt(level), tensor_bytes(out))


def equal_params_level(ctx: RunContext, store: Store, level: int, keep: int, rel: str) -> None:
    """IMP single pruned to `keep` weights (RTL's mask union at `level`), written to `rel`: take the
    single model's trained weights at the sparsest level that still keeps at least `keep`, prune
    them to `keep`, rewind and retrain with the same exposure."""
    single = Loop(methods.IMP_SINGLE.loop)
    src = max(i for i in range(ctx.levels) if ctx.kept[i] >= keep)
    ck = load_level(store, single, src)
    mask = prune(ck["mask"], ck["trained"], keep, ctx.cfg.prune.ranking)
    params, bufs = new_state(rewind(ctx.rewind_params, mask), ctx.rewind_buffers, ctx.device)
    train(ctx.model, params, bufs, mask, ctx.task.single_target(ctx), ctx.x_train,
          methods.IMP_SINGLE_EQUAL.epochs(ctx.cfg), ctx.cfg.prune.lr, ctx.cfg.prune.batch_size,
          derive_seed(ctx.cfg.seed, methods.IMP_SINGLE_EQUAL.name, level))
    out = {"mask": mask, "logits": predict_logits(ctx.model, params, bufs, mask, ctx.x_test),
           "source_level": torch.tensor(src)}
    store.write_bytes(rel, tensor_bytes(out))
