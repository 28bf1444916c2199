"""The units of work of one run, the wave of a level, and the one place that skips finished work.

    python -c "from rtl_sweep.units import Unit; print(Unit('loop', 2, 'rtl', 4))"

Every unit is a pure function of (config, unit) whose output is a checkpoint file in the run
folder: a unit whose file exists is done, so any executor (a local loop, Ray actors on many nodes)
can resume a run by skipping finished units, and two executors compute the same bytes. `run_unit`
is the only place that checks; the runners below just compute.

Wave L of a run holds the units that can run at once: level L of every prune-rewind loop, joint
retraining of level L, and the equal-parameter baseline of level L - 1 (it needs the single model's
level L - 1 weights; `Method.lag`). Wave 0 also trains the learned router when `learned` is among
the routes (rtl_sweep/routing.py); it serves every level.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from rtl_sweep import methods
from rtl_sweep.config import routes_of
from rtl_sweep.context import RunContext
from rtl_sweep.joint import run_joint
from rtl_sweep.loops import Loop, all_loops, equal_params_level, level_mask, run_level
from rtl_sweep.pruning import kept, union
from rtl_sweep.routing import ROUTER_CKPT, run_router
from rtl_sweep.serialize import tensor_load
from rtl_sweep.store import Store
from rtl_sweep.vectorized import run_tickets, use_vectorized


@dataclass(frozen=True)
class Unit:
    kind: str        # loop | tickets (a level's RTL loops, vectorized; k = last ticket) | joint | equal
                     # | router (the learned router, once per run, in wave 0)
    level: int
    loop_kind: str = ""
    k: int = -1

    @property
    def loop(self) -> Loop:
        return Loop(self.loop_kind, self.k)

    def __str__(self) -> str:
        return f"{self.loop if self.kind == 'loop' else self.kind}@L{self.level}"

    def ckpt(self) -> str:
        if self.kind in ("loop", "tickets"):  # tickets: the last ticket's file is written last
            return self.loop.ckpt(self.level)
        if self.kind == "router":
            return ROUTER_CKPT
        return f"ckpt/{'joint' if self.kind == 'joint' else methods.IMP_SINGLE_EQUAL.name}/L{self.level}.pt"


def wave(ctx: RunContext, level: int) -> list[Unit]:
    """Units of wave `level` (0 .. levels); a wave's units are independent of each other."""
    units: list[Unit] = []
    if level < ctx.levels:
        vectorized = use_vectorized(ctx)
        if vectorized:
            units.append(Unit("tickets", level, methods.RTL_TICKETS.loop, ctx.K - 1))
        units += [Unit("loop", level, lp.kind, lp.k) for lp in all_loops(ctx)
                  if not (vectorized and lp.kind == methods.RTL_TICKETS.loop)]
    for m in methods.active(ctx.cfg):
        at = level - m.lag
        if m.unit and m.first_level <= at < ctx.levels:
            units.append(Unit(m.unit, at))
    if level == 0 and "learned" in routes_of(ctx.cfg):  # trained once, on the training split only
        units.append(Unit("router", 0))
    return units


def rtl_masks(ctx: RunContext, store: Store, level: int) -> list:
    return [level_mask(ctx, store, Loop(methods.RTL_TICKETS.loop, k), level) for k in range(ctx.K)]


def run_unit(ctx: RunContext, store: Store, unit: Unit) -> float:
    """Compute `unit` unless its checkpoint exists; returns seconds spent (0 when skipped)."""
    if store.exists(unit.ckpt()):
        return 0.0
    if unit.kind == "tickets":  # writes each ticket's checkpoint and its share of the time itself
        return run_tickets(ctx, store, unit.level)
    t0 = time.perf_counter()
    if unit.kind == "loop":
        run_level(ctx, store, unit.loop, unit.level)
    elif unit.kind == "joint":
        run_joint(ctx, store, rtl_masks(ctx, store, unit.level), unit.level, unit.ckpt())
    elif unit.kind == "router":
        run_router(ctx, store, unit.ckpt())
    elif unit.kind == "equal":
        keep = kept(union(rtl_masks(ctx, store, unit.level)))
        equal_params_level(ctx, store, unit.level, keep, unit.ckpt())
    else:
        raise ValueError(f"unknown unit kind {unit.kind!r}")
    wall = time.perf_counter() - t0
    store.write_text(unit.ckpt() + ".time", f"{wall:.6f}")
    return wall


def unit_wall(store: Store, unit: Unit) -> float:
    rel = unit.ckpt() + ".time"
    return float(store.read_bytes(rel)) if store.exists(rel) else float("nan")


def load_unit(store: Store, unit: Unit) -> dict:
    return tensor_load(store.read_bytes(unit.ckpt()))
