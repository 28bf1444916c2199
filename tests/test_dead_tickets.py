"""The dead-ticket trigger of the collapse detector: a ticket that now gives one answer to every
input. Invariants on real data and real runs: a dead one-vs-rest ticket scores exactly 0.5 balanced
accuracy, the run row counts its dead tickets, and only an alive -> dead change fires."""

from __future__ import annotations

import dataclasses

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

from conftest import tiny_overrides
from rtl_sweep.config import RunConfig
from rtl_sweep.context import build_context
from rtl_sweep.engine import Run
from rtl_sweep.collapse import SignalTracker
from rtl_sweep.similarity import jaccard_matrices


@pytest.fixture(scope="module")
def ctx():
    return build_context(RunConfig().with_overrides(tiny_overrides()), "cpu")


def _logits(ctx, dead: set[int], seed: int = 0) -> list[torch.Tensor]:
    """K tickets' test logits: random answers, except the dead ones, which say 'no' to everything."""
    g = torch.Generator().manual_seed(seed)
    n, out = len(ctx.partition.test_ids), ctx.data.num_classes
    logits = [torch.randn(n, out, generator=g) for _ in range(ctx.K)]
    for k in dead:
        logits[k][:, k] = -1.0
    return logits


def test_alive_means_more_than_one_answer(ctx):
    logits = _logits(ctx, dead={2, 7})
    alive = ctx.task.ticket_alive(ctx, logits)
    assert [k for k, a in enumerate(alive) if not a] == [2, 7]
    # the invariant the trigger stands on: a one-vs-rest ticket with one answer is at chance
    _, per = ctx.task.score_tickets(ctx, logits)
    assert per[2]["balanced_accuracy"] == 0.5 and per[7]["balanced_accuracy"] == 0.5


def test_multiclass_judges_the_inputs_routed_to_the_ticket(ctx):
    mc = build_context(RunConfig().with_overrides(tiny_overrides() + ["protocol=multiclass"]), "cpu")
    logits = _logits(mc, dead=set())
    routed_to_0 = np.asarray(mc.partition.test_ids) == 0
    logits[0][torch.from_numpy(routed_to_0)] = torch.eye(mc.data.num_classes)[4]  # always class 4 there
    assert mc.task.ticket_alive(mc, logits) == [False] + [True] * (mc.K - 1)


def _tracker(ctx, dead_tickets: bool = True) -> SignalTracker:
    cfg = ctx.cfg.with_overrides([f"signal.dead_tickets={str(dead_tickets).lower()}"])
    return SignalTracker(dataclasses.replace(ctx, cfg=cfg))


def _steady_mats(ctx):
    """The same masks every level: the Jaccard signal never moves, so only deaths can fire."""
    g = torch.Generator().manual_seed(1)
    masks = [{"w": torch.rand(200, generator=g) < 0.5} for _ in range(ctx.K)]
    return jaccard_matrices(masks)


def test_only_an_alive_to_dead_change_fires(ctx):
    tr, mats, K = _tracker(ctx), _steady_mats(ctx), ctx.K
    born_dead = [k != 5 for k in range(K)]        # ticket 5 never worked: no collapse
    seq = [born_dead, born_dead, [k not in (3, 5) for k in range(K)], [k not in (3, 5) for k in range(K)]]
    out = [tr.observe(level, mats, alive) for level, alive in enumerate(seq)]
    assert [s["collapse"] for s in out] == [False, False, True, False]
    assert out[2]["collapse_cause"] == "dead_ticket" and out[3]["collapse_cause"] is None


def test_switch_turns_the_trigger_off(ctx):
    tr, mats, K = _tracker(ctx, dead_tickets=False), _steady_mats(ctx), ctx.K
    out = [tr.observe(level, mats, [level == 0 or k != 1 for k in range(K)]) for level in range(3)]
    assert not any(s["collapse"] for s in out)


def test_a_run_pruned_past_collapse_records_its_dead_tickets(tmp_path):
    """Real MNIST, layer-wise pruning to 99.9%: tickets die; the tables must agree with themselves."""
    cfg = RunConfig().with_overrides(tiny_overrides() + ["prune.target_sparsity=0.999",
                                                         "prune.ranking=layerwise", "baselines=[]"])
    result = Run(cfg, tmp_path).execute()
    rounds = pq.read_table(f"{result['folder']}/tables/rounds").to_pandas()
    rtl = rounds[rounds.method == "rtl"]
    run_rows, ticket_rows = rtl[rtl.ticket == -1].set_index("level"), rtl[rtl.ticket >= 0]
    dead_per_level = ticket_rows.groupby("level").dead_tickets.sum()
    assert (run_rows.dead_tickets == dead_per_level).all()
    assert (ticket_rows[ticket_rows.dead_tickets == 1].balanced_accuracy == 0.5).all()
    assert run_rows.dead_tickets.iloc[-1] > 0, "nothing died at 99.9%: the test lost its subject"
    alive = ticket_rows.pivot(index="level", columns="ticket", values="dead_tickets") == 0
    died = (alive.shift(1, fill_value=False) & ~alive).any(axis=1)
    fired = run_rows.collapse_cause.fillna("").str.contains("dead_ticket")
    assert (died == fired).all()                   # fires exactly where an alive ticket died
