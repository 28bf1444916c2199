"""The units of work of one run, the wave of a level, and the one place that skips finished work.

    python -c "from rtl_sweep.units import Unit; print(Unit('loop', 2, 'rtl', 4))"

Every unit is a pure function of (config, unit) whose output is a checkpoint file in the run
folder: a unit whose file exists is done, so any executor (a local loop, Ray actors on many nodes)
can resume a run by skipping finished units, and two executors compute the same bytes. `run_unit`
is the only place that checks; the runners below just compute.

Wave L of a run holds the units that can run at once: level L of every prune-rewind loop, joint
retraining of level L, and the equal-parameter baseline of level L - 1 (it needs the single model's
level L - 1 weights; `Method.lag`). Wave 0 also trains the learned router when `learned` is among
the routes (rtl_sweep/routing.py); it serves every level. With `prune.vectorize` on (or auto on
CUDA) the loops and the equal-parameter model of a wave train fused, as two stack units.
"""

from __future__ import annotations

import time

from rtl_sweep import methods
from rtl_sweep.checkpoints import Unit
from rtl_sweep.config import routes_of
from rtl_sweep.context import RunContext
from rtl_sweep.family import FAMILY, run_family
from rtl_sweep.joint import run_joint
from rtl_sweep.loops import Loop, Member, all_loops, equal_member, level_mask, member, run_member
from rtl_sweep.pruning import kept, union
from rtl_sweep.routing import run_router
from rtl_sweep.store import Store
from rtl_sweep.vectorized import run_stack, use_fused


def wave(ctx: RunContext, level: int) -> list[Unit]:
    """Units of wave `level` (0 .. levels); a wave's units are independent of each other."""
    units: list[Unit] = []
    if level < ctx.levels:
        units += [Unit("loop", level, lp.kind, lp.k) for lp in all_loops(ctx)]
    for m in methods.active(ctx.cfg):
        at = level - m.lag
        if m.unit and m.first_level <= at < ctx.levels:
            units.append(Unit(m.unit, at))
    if level == 0 and "learned" in routes_of(ctx.cfg):  # trained once, on the training split only
        units.append(Unit("router", 0))
    return fuse(units) if use_fused(ctx) else units


def fuse(units: list[Unit]) -> list[Unit]:
    """The wave's loop and equal-parameter units as stacks that share an architecture and train in
    one pass: the per-subset loops (RTL's tickets and IMP multiple's copies), and the models on all
    data (IMP single and the equal-parameter model). Parts with fewer epochs come first: they are
    written first (rtl_sweep/vectorized.py trains the longer ones on without them)."""
    per_subset = [u for u in units if u.kind == "loop" and u.k >= 0]
    whole = [u for u in units if (u.kind == "loop" and u.k < 0) or u.kind == "equal"]
    rest = [u for u in units if u not in per_subset and u not in whole]
    stacks = [Unit("stack", group[0].level, parts=tuple(group)) for group in (per_subset, whole) if group]
    return stacks + rest


def rtl_masks(ctx: RunContext, store: Store, level: int) -> list:
    return [level_mask(ctx, store, Loop(methods.RTL_TICKETS.loop, k), level) for k in range(ctx.K)]


def done(store: Store, unit: Unit) -> bool:
    """A unit is done when its checkpoint exists (a stack: when its last part's does)."""
    return store.exists(unit.ckpt())


def member_of(ctx: RunContext, store: Store, unit: Unit) -> Member:
    """A loop or equal-parameter unit as a model ready to train."""
    if unit.kind == "loop":
        return member(ctx, store, unit.loop, unit.level)
    keep = kept(union(rtl_masks(ctx, store, unit.level)))
    return equal_member(ctx, store, unit.level, keep, unit.ckpt())


def run_unit(ctx: RunContext, store: Store, unit: Unit) -> float:
    """Compute `unit` unless it is done; returns seconds spent (0 when skipped)."""
    if done(store, unit):
        return 0.0
    if unit.kind == "stack":  # writes each part's checkpoint and its share of the time itself
        return run_stack(ctx, store, [member_of(ctx, store, p) for p in unit.parts],
                         [done(store, p) for p in unit.parts])
    t0 = time.perf_counter()
    if unit.kind in ("loop", "equal"):
        run_member(ctx, store, member_of(ctx, store, unit))
    elif unit.kind == "joint":
        run_joint(ctx, store, rtl_masks(ctx, store, unit.level), unit.level, unit.ckpt())
    elif unit.kind == "router":
        run_router(ctx, store, unit.ckpt())
    elif unit.kind in FAMILY:
        run_family(ctx, store, unit.kind, unit.level, unit.ckpt())
    else:
        raise ValueError(f"unknown unit kind {unit.kind!r}")
    wall = time.perf_counter() - t0
    store.write_text(unit.ckpt() + ".time", f"{wall:.6f}")
    return wall
