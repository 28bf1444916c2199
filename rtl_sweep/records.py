"""Per-level records: scores, parameter counts, similarity and the collapse verdict, as table rows.

    python -c "import rtl_sweep.records as r; help(r.level_rows)"
"""

from __future__ import annotations

import math

import numpy as np

from rtl_sweep.context import RunContext
from rtl_sweep.evaluate import score_single, score_tickets, ticket_alive
from rtl_sweep.metrics import param_counts
from rtl_sweep.pruning import density, kept, union
from rtl_sweep.store import Store
from rtl_sweep.similarity import ALL, CollapseDetector, jaccard_matrices, summary, ticket_means
from rtl_sweep.tickets import LoopId, loop_epochs
from rtl_sweep.units import Unit, load_unit, unit_wall

METRICS = ("balanced_accuracy", "precision", "recall", "accuracy")


def _row(ctx, method, level, ticket, subset, scores, **extra) -> dict:
    row = {"run_id": ctx.cfg.hash(), "method": method, "level": level, "ticket": ticket, "subset": subset}
    for m in METRICS:
        v = scores.get(m)
        row[m] = None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)
    row.update(extra)
    return row


def _method_rows(ctx, method, level, mean, per, masks, count, epochs, wall, sim=None,
                 alive: list[bool] | None = None) -> list[dict]:
    pc = param_counts(masks, ctx.dense_params, count, ctx.dense_per_copy())
    sparsity = 1.0 - float(np.mean([density(m) for m in masks]))
    usp = 1.0 - kept(union(masks)) / ctx.total_prunable
    common = dict(sparsity=sparsity, union_sparsity=usp, epochs=epochs, wall_s=wall, **pc)
    if sim:
        common.update(mean_jaccard=sim["mean_jaccard"], jaccard_chance=sim["jaccard_chance"])
    dead = [not a for a in alive] if alive is not None else None
    rows = [_row(ctx, method, level, -1, "all", mean, **common,
                 signal=sim.get("signal") if sim else None, collapse=sim.get("collapse") if sim else None,
                 collapse_cause=sim.get("collapse_cause") if sim else None,
                 dead_tickets=sum(dead) if dead is not None else None)]
    tmeans = sim.get("ticket_means") if sim else None
    for k, scores in enumerate(per):
        rows.append(_row(ctx, method, level, k, ctx.partition.names[k], scores, sparsity=sparsity,
                         union_sparsity=usp, epochs=epochs,
                         mean_jaccard=float(tmeans[k]) if tmeans is not None else None,
                         dead_tickets=int(dead[k]) if dead is not None else None))
    return rows


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
    """Replays the collapse detector over levels 1..L of the RTL run (level 0 is all-ones masks).

    Two label-free triggers, either one marks the level as collapsed:
    - jaccard: the watched mask-similarity signal departs abruptly from its trend (CollapseDetector);
    - dead_ticket (signal.dead_tickets): a ticket that gave more than one answer over its test
      inputs at the previous level now gives the same answer for all of them. Its subnetwork no
      longer tells anything apart; its masks can look ordinary (under layer-wise ranking a ticket
      dies while the Jaccard signal keeps its smooth trend).
    """

    def __init__(self, ctx: RunContext):
        self.ctx = ctx
        self.detector = CollapseDetector(ctx.cfg.signal.window, ctx.cfg.signal.threshold)
        self.by_level: dict[int, dict] = {}
        self.alive_before: list[bool] | None = None

    def observe(self, level: int, mats: dict, alive: list[bool]) -> dict:
        """`alive`: ticket_alive() of the model the run reports (joint RTL, else the tickets)."""
        if level in self.by_level:
            return self.by_level[level]
        s = summary(mats)
        s["ticket_means"] = ticket_means(mats[ALL]["jaccard"])
        s["signal"] = s[self.ctx.cfg.signal.watch]
        causes = []
        if level >= 1:
            fired, s["departure"] = self.detector.update(s["signal"])
            if fired:
                causes.append("jaccard")
            before = self.alive_before or []
            if self.ctx.cfg.signal.dead_tickets and any(b and not a for b, a in zip(before, alive)):
                causes.append("dead_ticket")
        else:
            s["departure"] = 0.0
        self.alive_before = alive
        s["collapse"] = bool(causes)
        s["collapse_cause"] = "+".join(causes) or None
        self.by_level[level] = s
        return s


def level_rows(ctx: RunContext, store: Store, level: int, tracker: SignalTracker) -> tuple[list, list]:
    """(rounds rows, similarity rows) of batch `level`: RTL, its separate tickets and the loop
    baselines at `level`, plus the equal-parameter baseline of level - 1."""
    rounds: list[dict] = []
    sim_rows: list[dict] = []
    cfg, K = ctx.cfg, ctx.K
    if level < ctx.levels:
        tickets = [load_unit(store, Unit("loop", level, "rtl", k)) for k in range(K)]
        masks = [t["mask"] for t in tickets]  # the mask each ticket trained under at this level
        mats = jaccard_matrices(masks)
        sp = 1.0 - float(np.mean([density(m) for m in masks]))
        sim_rows = similarity_rows(ctx, level, mats, sp)
        twall = sum(unit_wall(store, Unit("loop", level, "rtl", k)) for k in range(K))
        t_alive = ticket_alive(ctx, [t["logits"] for t in tickets])
        joint = load_unit(store, Unit("joint", level)) if cfg.joint.epochs > 0 else None
        j_alive = ticket_alive(ctx, joint["logits"]) if joint else None
        sim = tracker.observe(level, mats, j_alive if joint else t_alive)
        mean, per = score_tickets(ctx, [t["logits"] for t in tickets])
        rounds += _method_rows(ctx, "rtl_tickets", level, mean, per, masks, "sum",
                               cfg.prune.epochs, twall, sim, t_alive)
        if joint:
            mean, per = score_tickets(ctx, joint["logits"])
            rounds += _method_rows(ctx, "rtl", level, mean, per, masks, "union",
                                   cfg.prune.epochs + cfg.joint.epochs,
                                   twall + unit_wall(store, Unit("joint", level)), sim, j_alive)
        if "imp_multiple" in cfg.baselines:
            units = [Unit("loop", level, "imp_multiple", k) for k in range(K)]
            outs = [load_unit(store, u) for u in units]
            mmasks = [o["mask"] for o in outs]
            msim = summary(jaccard_matrices(mmasks))
            msim["ticket_means"] = None
            mean, per = score_tickets(ctx, [o["logits"] for o in outs])
            rounds += _method_rows(ctx, "imp_multiple", level, mean, per, mmasks, "sum",
                                   loop_epochs(ctx, LoopId("imp_multiple", 0)),
                                   sum(unit_wall(store, u) for u in units), msim,
                                   ticket_alive(ctx, [o["logits"] for o in outs]))
        if "imp_single" in cfg.baselines:
            u = Unit("loop", level, "imp_single")
            o = load_unit(store, u)
            mean, per = score_single(ctx, o["logits"])
            rounds += _method_rows(ctx, "imp_single", level, mean, per, [o["mask"]], "single",
                                   loop_epochs(ctx, LoopId("imp_single")), unit_wall(store, u))
    eq = level - 1
    if "imp_single_equal" in cfg.baselines and 1 <= eq < ctx.levels:
        u = Unit("equal", eq)
        o = load_unit(store, u)
        mean, per = score_single(ctx, o["logits"])
        rounds += _method_rows(ctx, "imp_single_equal", eq, mean, per, [o["mask"]], "single",
                               loop_epochs(ctx, LoopId("imp_single")), unit_wall(store, u))
    return rounds, sim_rows

