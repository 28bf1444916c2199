"""Image classification, the paper's vision task, under two protocols.

    rtl-sweep run --set task=classification --set protocol=multiclass

ovr (the paper): ticket k is a binary detector of subset k (its output k > 0), trained on balanced
batches of subset k against the other subsets and scored one-vs-rest on the whole test set; the
single model is one K-way model over subset ids scored one-vs-rest from its argmax.
multiclass: every model predicts the class; a test sample is routed to the ticket of its subset
(its label-derived subset, its group, or its nearest k-means centroid).
"""

from __future__ import annotations

import numpy as np
import torch

from rtl_sweep.metrics import multiclass_scores, one_vs_rest
from rtl_sweep.partition import build_partition
from rtl_sweep.tasks.base import Task
from rtl_sweep.training import TrainTarget


class Classification(Task):
    name = "classification"
    main_score = "balanced_accuracy"
    higher_is_better = True
    main_label = "bal.acc"
    scores = ("balanced_accuracy", "precision", "recall", "accuracy")

    def load(self, cfg, device):
        from rtl_sweep.data import load_dataset
        data = load_dataset(cfg.data, cfg.seed)
        embed = None
        if cfg.partition.method == "kmeans" and cfg.partition.embedding == "dense":
            from rtl_sweep.embedding import dense_embedding
            embed = dense_embedding(cfg, data, device)
        return data, build_partition(cfg.partition, data, cfg.seed, embed=embed)

    def num_outputs(self, cfg, data, partition):
        return partition.k if cfg.protocol == "ovr" else data.num_classes

    # ---- training ----------------------------------------------------------------------------
    def ticket_target(self, ctx, k):
        ids = torch.as_tensor(ctx.partition.train_ids)
        pos = torch.from_numpy(ctx.partition.indices(k))
        if ctx.cfg.protocol == "ovr":
            return TrainTarget("binary", pos, torch.nonzero(ids != k).flatten(), column=k)
        return TrainTarget("ce", pos, targets=ctx.data.y_train)

    def single_target(self, ctx):
        allidx = torch.arange(len(ctx.data.y_train))
        if ctx.cfg.protocol == "ovr":
            # One K-way model over subset ids, scored one-vs-rest from its predictions; with the
            # class partition this is the paper's C-way single model.
            return TrainTarget("ce", allidx, targets=torch.as_tensor(ctx.partition.train_ids))
        return TrainTarget("ce", allidx, targets=ctx.data.y_train)

    def dense_per_copy(self, ctx):
        """A one-vs-rest detector reads one logit, so a copy needs one classifier row (and its
        bias), not all K of them."""
        if ctx.cfg.protocol != "ovr":
            return ctx.dense_params
        head = getattr(ctx.model.module, "classifier", None)
        if not isinstance(head, torch.nn.Linear):
            return ctx.dense_params
        row = head.in_features + (1 if head.bias is not None else 0)
        return ctx.dense_params - (ctx.num_outputs - 1) * row

    # ---- scores ------------------------------------------------------------------------------
    def score_tickets(self, ctx, outputs):
        test_ids = np.asarray(ctx.partition.test_ids)
        if ctx.cfg.protocol == "ovr":
            member = np.stack([(lg[:, k] > 0).numpy() for k, lg in enumerate(outputs)])
            return one_vs_rest(member, test_ids)
        preds = np.stack([lg.argmax(1).numpy() for lg in outputs])          # [K, N]
        routed = preds[test_ids, np.arange(len(test_ids))]
        y = ctx.data.y_test.numpy()
        mean, _ = multiclass_scores(routed, y, ctx.data.num_classes)
        per = [{"accuracy": float((routed[test_ids == k] == y[test_ids == k]).mean())
                if (test_ids == k).any() else float("nan")} for k in range(len(outputs))]
        return mean, per

    def score_single(self, ctx, outputs):
        pred = outputs.argmax(1).numpy()
        if ctx.cfg.protocol == "ovr":
            test_ids = np.asarray(ctx.partition.test_ids)
            member = np.stack([pred == k for k in range(ctx.K)])
            return one_vs_rest(member, test_ids)
        mean, _ = multiclass_scores(pred, ctx.data.y_test.numpy(), ctx.data.num_classes)
        return mean, []  # per-class entries are not per-subset rows: a single model has none here

    def score_routed(self, ctx, outputs, chosen):
        """ovr: the routing's choice IS the prediction (a subset id; the class under a class
        partition), scored one-vs-rest like the single model, plus its accuracy against the test
        subset ids. multiclass: the chosen ticket's class, scored like the oracle's routed answer."""
        test_ids = np.asarray(ctx.partition.test_ids)
        if ctx.cfg.protocol == "ovr":
            pred = np.asarray(chosen) if chosen is not None else outputs[0].argmax(1).numpy()
            mean, _ = one_vs_rest(np.stack([pred == k for k in range(ctx.K)]), test_ids)
            mean["accuracy"] = float((pred == test_ids).mean())
            return mean
        if chosen is None:
            return self.score_single(ctx, outputs[0])[0]
        preds = np.stack([lg.argmax(1).numpy() for lg in outputs])
        routed = preds[np.asarray(chosen), np.arange(preds.shape[1])]
        return multiclass_scores(routed, ctx.data.y_test.numpy(), ctx.data.num_classes)[0]

    def ticket_alive(self, ctx, outputs):
        """A ticket is alive while it gives more than one answer over the test inputs it answers
        for (one-vs-rest: its yes/no on every input; multiclass: its argmax on the inputs routed
        to it)."""
        test_ids = np.asarray(ctx.partition.test_ids)
        alive = []
        for k, lg in enumerate(outputs):
            if ctx.cfg.protocol == "ovr":
                answers = (lg[:, k] > 0).numpy()
            else:
                answers = lg.argmax(1).numpy()[test_ids == k]
            alive.append(len(np.unique(answers)) > 1)
        return alive
