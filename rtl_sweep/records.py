"""Per-level records: scores, parameter counts, similarity and the collapse verdict, as table rows.

    python -c "import rtl_sweep.records as r; help(r.level_rows)"
"""

from __future__ import annotations

import math

import numpy as np

from rtl_sweep.context import RunContext
from rtl_sweep.evaluate import score_single, score_tickets
from rtl_sweep.metrics import param_counts
from rtl_sweep.pruning import density, kept, union
from rtl_sweep.results.store import Store
from rtl_sweep.similarity import ALL, CollapseDetector, jaccard_matrices, summary, ticket_means
from rtl_sweep.tickets import LoopId, loop_epochs
from rtl_sweep.units import Unit, load_unit, rtl_masks, unit_wall

METRICS = ("balanced_accuracy", "precision", "recall", "accuracy")


def _row(ctx, method, level, ticket, subset, scores, **extra) -> dict:
    row = {"run_id": ctx.cfg.hash(), "method": method, "level": level, "ticket": ticket, "subset": subset}
    for m in METRICS:
        v = scores.get(m)
        row[m] = None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)
    row.update(extra)
    return row


def _method_rows(ctx, method, level, mean, per, masks, count, epochs, wall, sim=None) -> list[dict]:
    pc = param_counts(masks, ctx.dense_params, count, ctx.dense_per_copy())
    sparsity = 1.0 - float(np.mean([density(m) for m in masks]))
    usp = 1.0 - kept(union(masks)) / ctx.total_prunable
    common = dict(sparsity=sparsity, union_sparsity=usp, epochs=epochs, wall_s=wall, **pc)
    if sim:
        common.update(mean_jaccard=sim["mean_jaccard"], jaccard_chance=sim["jaccard_chance"])
    rows = [_row(ctx, method, level, -1, "all", mean, **common,
                 signal=sim.get("signal") if sim else None, collapse=sim.get("collapse") if sim else None)]
    tmeans = sim.get("ticket_means") if sim else None
    for k, scores in enumerate(per if len(per) == ctx.K else []):  # per-class rows are not per-ticket
        rows.append(_row(ctx, method, level, k, ctx.partition.names[k], scores, sparsity=sparsity,
                         union_sparsity=usp, epochs=epochs,
                         mean_jaccard=float(tmeans[k]) if tmeans is not None else None))
    return rows


def _single_per(ctx: RunContext, mean: dict, per: list[dict]) -> tuple[dict, list[dict]]:
    """A single model's per-subset rows. Fix: under multiclass, score_single's `per` holds one entry
    per CLASS, not per subset; with K == C (e.g. kmeans k=10 on 10 classes) _method_rows wrote class
    c's scores as ticket/subset c. Per-ticket rows of a single model exist only under ovr."""
    return mean, (per if ctx.cfg.protocol == "ovr" else [])


def similarity_rows(ctx: RunContext, level: int, mats: dict, sparsity: float) -> list[dict]:
    rows, names, rid = [], ctx.partition.names, ctx.cfg.hash()
    for layer, pack in mats.items():
        J, C, D = pack["jaccard"], pack["chance"], pack["density"]
        for i in range(J.shape[0]):
            for j in range(J.shape[0]):
                rows.append({"run_id": rid, "method": "rtl", "level": level, "sparsity": sparsity,
                             "layer": layer, "ticket_i": i, "ticket_j": j, "subset_i": names[i],
                             "subset_j": names[j], "jaccard": float(J[i, j]), "chance": float(C[i, j]),
                             "density_i": float(D[i]), "density_j": float(D[j])})
    return rows


class SignalTracker:
    """Replays the collapse detector over levels 1..L of the RTL masks (level 0 is all-ones)."""

    def __init__(self, ctx: RunContext):
        self.ctx = ctx
        self.detector = CollapseDetector(ctx.cfg.signal.window, ctx.cfg.signal.threshold)
        self.by_level: dict[int, dict] = {}

    def observe(self, level: int, mats: dict) -> dict:
        if level in self.by_level:
            return self.by_level[level]
        s = summary(mats)
        s["ticket_means"] = ticket_means(mats[ALL]["jaccard"])
        s["signal"] = s[self.ctx.cfg.signal.watch]
        if level >= 1:
            fired, departure = self.detector.update(s["signal"])
            s["collapse"], s["departure"] = fired, departure
        else:
            s["collapse"], s["departure"] = False, 0.0
        self.by_level[level] = s
        return s


def level_rows(ctx: RunContext, store: Store, level: int, tracker: SignalTracker) -> tuple[list, list]:
    """(rounds rows, similarity rows) of batch `level`: RTL, its separate tickets and the loop
    baselines at `level`, plus the equal-parameter baseline of level - 1."""
    rounds: list[dict] = []
    sim_rows: list[dict] = []
    cfg, K = ctx.cfg, ctx.K
    if level < ctx.levels:
        masks = rtl_masks(ctx, store, level)
        mats = jaccard_matrices(masks)
        sim = tracker.observe(level, mats)
        sp = 1.0 - float(np.mean([density(m) for m in masks]))
        sim_rows = similarity_rows(ctx, level, mats, sp)
        tickets = [load_unit(store, Unit("loop", level, "rtl", k)) for k in range(K)]
        twall = sum(unit_wall(store, Unit("loop", level, "rtl", k)) for k in range(K))
        mean, per = score_tickets(ctx, [t["logits"] for t in tickets])
        rounds += _method_rows(ctx, "rtl_tickets", level, mean, per, masks, "sum",
                               cfg.prune.epochs, twall, sim)
        if cfg.joint.epochs > 0:
            j = load_unit(store, Unit("joint", level))
            mean, per = score_tickets(ctx, j["logits"])
            rounds += _method_rows(ctx, "rtl", level, mean, per, masks, "union",
                                   cfg.prune.epochs + cfg.joint.epochs,
                                   twall + unit_wall(store, Unit("joint", level)), sim)
        if "imp_multiple" in cfg.baselines:
            units = [Unit("loop", level, "imp_multiple", k) for k in range(K)]
            outs = [load_unit(store, u) for u in units]
            mmasks = [o["mask"] for o in outs]
            msim = summary(jaccard_matrices(mmasks))
            msim["ticket_means"] = None
            mean, per = score_tickets(ctx, [o["logits"] for o in outs])
            rounds += _method_rows(ctx, "imp_multiple", level, mean, per, mmasks, "sum",
                                   loop_epochs(ctx, LoopId("imp_multiple", 0)),
                                   sum(unit_wall(store, u) for u in units), msim)
        if "imp_single" in cfg.baselines:
            u = Unit("loop", level, "imp_single")
            o = load_unit(store, u)
            mean, per = _single_per(ctx, *score_single(ctx, o["logits"]))
            rounds += _method_rows(ctx, "imp_single", level, mean, per, [o["mask"]], "single",
                                   loop_epochs(ctx, LoopId("imp_single")), unit_wall(store, u))
    eq = level - 1
    if "imp_single_equal" in cfg.baselines and 1 <= eq < ctx.levels:
        u = Unit("equal", eq)
        o = load_unit(store, u)
        mean, per = _single_per(ctx, *score_single(ctx, o["logits"]))
        rounds += _method_rows(ctx, "imp_single_equal", eq, mean, per, [o["mask"]], "single",
                               loop_epochs(ctx, LoopId("imp_single")), unit_wall(store, u))
    return rounds, sim_rows

