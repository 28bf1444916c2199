"""The units of work of one run and how to compute each. Executors only decide where units run.

    python -c "from rtl_sweep.units import Unit; print(Unit('loop', 2, 'rtl', 4))"

Every unit is a pure function of (config, unit) whose output is one checkpoint file in the run
folder: a unit whose file exists is done, so any executor (a local loop, Ray actors on many nodes)
can resume a run by skipping finished units, and two executors compute the same bytes.

Batch s of a run (see `batch`) holds: every loop's level s, joint retraining of level s, and the
equal-parameter baseline of level s - 1 (it needs the single model's level s - 1 weights).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from rtl_sweep.context import RunContext
from rtl_sweep.serialize import tensor_bytes, tensor_load
from rtl_sweep.joint import joint_logits, joint_retrain
from rtl_sweep.pruning import kept, union
from rtl_sweep.store import Store
from rtl_sweep.tickets import LoopId, equal_params_level, level_mask, run_level
from rtl_sweep.vectorized import run_tickets, use_vectorized


@dataclass(frozen=True)
class Unit:
    kind: str        # loop | tickets (all RTL loops of a level, vectorized; k = last ticket) | joint | equal
    level: int
    loop_kind: str = ""
    k: int = -1

    @property
    def loop(self) -> LoopId:
        return LoopId(self.loop_kind, self.k)

    def __str__(self) -> str:
        return f"{self.loop if self.kind == 'loop' else self.kind}@L{self.level}"

    def ckpt(self) -> str:
        if self.kind in ("loop", "tickets"):  # tickets: the last ticket's file is written last
            return self.loop.ckpt(self.level)
        return f"ckpt/{'joint' if self.kind == 'joint' else 'imp_single_equal'}/L{self.level}.pt"


def loops(ctx: RunContext) -> list[LoopId]:
    out = [LoopId("rtl", k) for k in range(ctx.K)]
    if "imp_multiple" in ctx.cfg.baselines:
        out += [LoopId("imp_multiple", k) for k in range(ctx.K)]
    if "imp_single" in ctx.cfg.baselines:
        out.append(LoopId("imp_single"))
    return out


def batch(ctx: RunContext, s: int) -> list[Unit]:
    """Units of batch s (s = 0 .. levels); all of a batch's units are independent of each other."""
    units: list[Unit] = []
    if s < ctx.levels:
        if use_vectorized(ctx):
            units += [Unit("tickets", s, "rtl", ctx.K - 1)]
        units += [Unit("loop", s, lp.kind, lp.k) for lp in loops(ctx)
                  if not (lp.kind == "rtl" and use_vectorized(ctx))]
        if ctx.cfg.joint.epochs > 0:
            units.append(Unit("joint", s))
    if "imp_single_equal" in ctx.cfg.baselines and 1 <= s - 1 < ctx.levels:
        units.append(Unit("equal", s - 1))
    return units


def rtl_masks(ctx: RunContext, store: Store, level: int) -> list:
    return [level_mask(ctx, store, LoopId("rtl", k), level) for k in range(ctx.K)]


def run_unit(ctx: RunContext, store: Store, unit: Unit) -> float:
    """Compute `unit` unless its checkpoint exists; returns seconds spent (0 when skipped)."""
    if store.exists(unit.ckpt()):
        return 0.0
    if unit.kind == "tickets":  # writes each ticket's checkpoint and .time itself
        return run_tickets(ctx, store, unit.level)
    t0 = time.perf_counter()
    if unit.kind == "loop":
        run_level(ctx, store, unit.loop, unit.level)
    elif unit.kind == "joint":
        masks = rtl_masks(ctx, store, unit.level)
        params, bufs = joint_retrain(ctx, masks, unit.level)
        u = union(masks)
        shared = {n: (p.detach().cpu() * u[n] if n in u else p.detach().cpu()) for n, p in params.items()}
        out = {"logits": joint_logits(ctx, params, bufs, masks), "masks": masks, "shared": shared,
               "buffers": {n: b.cpu() for n, b in bufs.items()}}
        store.write_bytes(unit.ckpt(), tensor_bytes(out))
    elif unit.kind == "equal":
        equal_params_level(ctx, store, unit.level, kept(union(rtl_masks(ctx, store, unit.level))), unit.ckpt())
    else:
        raise ValueError(unit.kind)
    wall = time.perf_counter() - t0
    store.write_text(unit.ckpt() + ".time", f"{wall:.6f}")
    return wall


def unit_wall(store: Store, unit: Unit) -> float:
    rel = unit.ckpt() + ".time"
    return float(store.read_bytes(rel)) if store.exists(rel) else float("nan")


def load_unit(store: Store, unit: Unit) -> dict:
    return tensor_load(store.read_bytes(unit.ckpt()))

