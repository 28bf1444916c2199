"""From test-set logits to scores, under either protocol.

    python -c "import rtl_sweep.evaluate as e; help(e.score_tickets)"

one-vs-rest (the paper): ticket k is a binary detector of subset k (its logit k > 0), scored on the
whole test set against membership of subset k; scores are averaged over subsets. A single K-way
model is scored one-vs-rest from its argmax.
multiclass: each test sample is routed to a ticket (by its subset id: the label-derived subset, the
nearest k-means centroid, or its group) and that ticket's argmax is the predicted class.
"""

from __future__ import annotations

import numpy as np
import torch

from rtl_sweep.context import RunContext
from rtl_sweep.metrics import multiclass_scores, one_vs_rest


def score_tickets(ctx: RunContext, logits: list[torch.Tensor]) -> tuple[dict, list[dict]]:
    """K ticket models (shared or separate weights), logits [N_test, outputs] each."""
    test_ids = np.asarray(ctx.partition.test_ids)
    if ctx.cfg.protocol == "ovr":
        member = np.stack([(lg[:, k] > 0).numpy() for k, lg in enumerate(logits)])
        return one_vs_rest(member, test_ids)
    preds = np.stack([lg.argmax(1).numpy() for lg in logits])          # [K, N]
    routed = preds[test_ids, np.arange(len(test_ids))]
    y = ctx.data.y_test.numpy()
    mean, _ = multiclass_scores(routed, y, ctx.data.num_classes)
    per = [{"accuracy": float((routed[test_ids == k] == y[test_ids == k]).mean())
            if (test_ids == k).any() else float("nan")} for k in range(len(logits))]
    return mean, per


def ticket_alive(ctx: RunContext, logits: list[torch.Tensor]) -> list[bool]:
    """Whether each ticket still tells its inputs apart: it gives more than one answer over the test
    inputs it answers for (one-vs-rest: its yes/no on every input; multiclass: its argmax on the
    inputs routed to it). Label-free: predictions only, no label is read."""
    test_ids = np.asarray(ctx.partition.test_ids)
    alive = []
    for k, lg in enumerate(logits):
        if ctx.cfg.protocol == "ovr":
            answers = (lg[:, k] > 0).numpy()
        else:
            answers = lg.argmax(1).numpy()[test_ids == k]
        alive.append(len(np.unique(answers)) > 1)
    return alive


def score_single(ctx: RunContext, logits: torch.Tensor) -> tuple[dict, list[dict]]:
    pred = logits.argmax(1).numpy()
    if ctx.cfg.protocol == "ovr":
        test_ids = np.asarray(ctx.partition.test_ids)
        member = np.stack([pred == k for k in range(ctx.K)])
        return one_vs_rest(member, test_ids)
    mean, _ = multiclass_scores(pred, ctx.data.y_test.numpy(), ctx.data.num_classes)
    return mean, []  # per-class entries are not per-subset rows: a single model has none here
