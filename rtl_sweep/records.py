"""Per-level records: scores, parameter counts, similarity and the collapse verdict, as table rows.

    python -c "import rtl_sweep.records as r; help(r.wave_rows)"

Every method is read and scored the same way (rtl_sweep/methods.py says where its outputs and
masks are and how its parameters count); the task scores the outputs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from rtl_sweep import methods
from rtl_sweep.checkpoints import Unit, load_unit, unit_wall
from rtl_sweep.collapse import SignalTracker
from rtl_sweep.context import RunContext
from rtl_sweep.methods import Method
from rtl_sweep.metrics import param_counts
from rtl_sweep.pruning import Mask, density, kept, union
from rtl_sweep.routing import Routes
from rtl_sweep.schema import ROUTED_TICKET
from rtl_sweep.similarity import jaccard_matrices, summary
from rtl_sweep.store import Store


@dataclass
class Outputs:
    """One method at one level: test outputs (one per ticket or copy, or one), masks, seconds."""

    outputs: list[torch.Tensor]
    masks: list[Mask]
    wall: float


def read_outputs(ctx: RunContext, store: Store, m: Method, level: int,
                 read: dict[str, Outputs] | None = None) -> Outputs:
    """Method `m`'s outputs at `level`; `read` holds what this level already read (by method)."""
    read = {} if read is None else read
    if m.name in read:
        return read[m.name]
    read[m.name] = _read(ctx, store, m, level, read)
    return read[m.name]


def _read(ctx: RunContext, store: Store, m: Method, level: int, read: dict) -> Outputs:
    if m.loop:
        ks = range(ctx.K) if m.per_subset else [-1]
        units = [Unit("loop", level, m.loop, k) for k in ks]
        outs = [load_unit(store, u) for u in units]
        return Outputs([o["logits"] for o in outs], [o["mask"] for o in outs],
                       sum(unit_wall(store, u) for u in units))
    u = Unit(m.unit, level)
    o = load_unit(store, u)
    wall = unit_wall(store, u)
    if m.masks_from:  # made from another method's loops (joint retraining): their masks, their time
        made_from = read_outputs(ctx, store, methods.of_loop(m.masks_from), level, read)
        return Outputs(o["logits"], made_from.masks, made_from.wall + wall)
    if m.per_subset:  # K subsets in one unit (the mask-per-subset family): K outputs, K masks
        return Outputs(o["logits"], o["masks"], wall)
    return Outputs([o["logits"]], [o["mask"]], wall)


def synthetic(ctx: RunContext) -> bool | None:
    """The `synthetic` column: true for the timing-only data set, else null."""
    return True if ctx.cfg.data.name == "synthetic" else None


def _row(ctx, method, level, ticket, subset, scores, **extra) -> dict:
    row = {"run_id": ctx.cfg.hash(), "synthetic": synthetic(ctx), "method": method, "level": level,
           "ticket": ticket, "subset": subset, "exposure": ctx.cfg.exposure}
    for m in ctx.task.scores:  # the task's own columns; the other tasks' stay null
        v = scores.get(m)
        row[m] = None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)
    row.update(extra)
    return row


def method_rows(ctx: RunContext, m: Method, level: int, got: Outputs, sim: dict | None) -> list[dict]:
    """The aggregate row (ticket -1) and, for per-subset methods, one row per ticket."""
    task = ctx.task
    if m.per_subset:
        mean, per = task.score_tickets(ctx, got.outputs)
        alive = task.ticket_alive(ctx, got.outputs)
    else:
        mean, per = task.score_single(ctx, got.outputs[0])
        alive = None
    masks = got.masks
    pc = param_counts(masks, ctx.dense_params, m.count, task.dense_per_copy(ctx))
    sparsity = 1.0 - float(np.mean([density(mk) for mk in masks]))
    usp = 1.0 - kept(union(masks)) / ctx.total_prunable
    common = dict(sparsity=sparsity, union_sparsity=usp, epochs=m.epochs(ctx.cfg), wall_s=got.wall, **pc)
    if sim:
        common.update(mean_jaccard=sim["mean_jaccard"], jaccard_chance=sim["jaccard_chance"])
    dead = [not a for a in alive] if alive is not None else None
    rows = [_row(ctx, m.name, level, -1, "all", mean, **common,
                 signal=sim.get("signal") if sim else None, collapse=sim.get("collapse") if sim else None,
                 collapse_cause=sim.get("collapse_cause") if sim else None,
                 dead_tickets=sum(dead) if dead is not None else None)]
    tmeans = sim.get("ticket_means") if sim else None
    for k, scores in enumerate(per):
        rows.append(_row(ctx, m.name, level, k, ctx.partition.names[k], scores, sparsity=sparsity,
                         union_sparsity=usp, epochs=m.epochs(ctx.cfg),
                         mean_jaccard=float(tmeans[k]) if tmeans is not None else None,
                         dead_tickets=int(dead[k]) if dead is not None else None))
    return rows


def similarity_rows(ctx: RunContext, level: int, mats: dict, sparsity: float) -> list[dict]:
    rows, names, rid = [], ctx.partition.names, ctx.cfg.hash()
    for layer, pack in mats.items():
        J, C, D = pack["jaccard"], pack["chance"], pack["density"]
        for i in range(J.shape[0]):
            for j in range(J.shape[0]):
                rows.append({"run_id": rid, "synthetic": synthetic(ctx), "method": methods.RTL.name,
                             "level": level, "sparsity": sparsity, "layer": layer, "ticket_i": i, "ticket_j": j,
                             "subset_i": names[i], "subset_j": names[j], "jaccard": float(J[i, j]),
                             "chance": float(C[i, j]), "density_i": float(D[i]), "density_j": float(D[j])})
    return rows


def routed_rows(ctx: RunContext, routes: Routes, m: Method, got: Outputs, oracle: dict) -> list[dict]:
    """One aggregate row (ticket ROUTED_TICKET) per routing besides the oracle, from the same
    outputs; parameters, sparsity and similarity are the oracle row's (`oracle`), plus the router's."""
    test_ids = np.asarray(ctx.partition.test_ids)
    keep = ("sparsity", "union_sparsity", "epochs", "wall_s", "params_prunable", "params_dense",
            "params_total", "params_count", "mean_jaccard", "jaccard_chance")
    rows = []
    for name in routes.names:
        extra: dict = {"routing": name, "router_params": 0}
        if m.per_subset:
            router = routes.router(name)
            chosen = routes.choose_test(name, got.outputs)
            scores = ctx.task.score_routed(ctx, got.outputs, chosen)
            extra.update(router_params=router.params, router_agreement=float((chosen == test_ids).mean()))
            if name == "learned" and ctx.partition.method == "class":  # the router is a classifier
                extra["router_accuracy"] = extra["router_agreement"]
        else:  # one model answers every input itself: nothing to route
            scores = ctx.task.score_routed(ctx, got.outputs, None)
        extra["params_with_router"] = oracle["params_total"] + extra["router_params"]
        rows.append(_row(ctx, m.name, oracle["level"], ROUTED_TICKET, "all", scores,
                         **{k: oracle.get(k) for k in keep}, **extra))
    return rows


def _mark_oracle(rows: list[dict], per_subset: bool) -> None:
    """The oracle's rows (today's rows, unchanged) name their routing; its aggregate row states
    that it routes every input to its own subset and stores no router."""
    for r in rows:
        r["routing"] = "oracle"
    agg = rows[0]
    agg.update(router_params=0, params_with_router=agg["params_total"],
               router_agreement=1.0 if per_subset else None)


def wave_rows(ctx: RunContext, store: Store, wave: int, tracker: SignalTracker,
              routes: Routes | None = None) -> tuple[list, list]:
    """(rounds rows, similarity rows) of the methods whose level finished in wave `wave`: level
    `wave` of most, level `wave - lag` of a lagging method (the equal-parameter baseline). With
    `routes`, each method also gets one aggregate row per routing besides the oracle."""
    rounds: list[dict] = []
    sim_rows: list[dict] = []
    got: dict[int, dict[str, Outputs]] = {}  # by level: each checkpoint is read once
    sim = None
    for m in methods.active(ctx.cfg):
        level = wave - m.lag
        if not m.first_level <= level < ctx.levels:
            continue
        out = read_outputs(ctx, store, m, level, got.setdefault(level, {}))
        if m.signal and sim is None:
            # The signal watches RTL's masks (the same for its separate tickets and after joint
            # retraining) and the reported method's tickets.
            rtl_masks = out.masks
            mats = jaccard_matrices(rtl_masks)
            sim_rows = similarity_rows(ctx, level, mats, 1.0 - float(np.mean([density(x) for x in rtl_masks])))
            rep = read_outputs(ctx, store, methods.reported(ctx.cfg), level, got[level])
            sim = tracker.observe(level, mats, ctx.task.ticket_alive(ctx, rep.outputs))
        own = None
        if not m.signal and m.per_subset:  # separately pruned copies: their own overlap, no verdict
            own = summary(jaccard_matrices(out.masks))
            own["ticket_means"] = None
        rows = method_rows(ctx, m, level, out, sim if m.signal else own)
        _mark_oracle(rows, m.per_subset)
        rounds += rows
        if routes is not None:
            rounds += routed_rows(ctx, routes, m, out, rows[0])
    return rounds, sim_rows
