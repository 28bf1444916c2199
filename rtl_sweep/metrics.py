"""Scores and parameter counts: one-vs-rest balanced accuracy, precision, recall; union vs sum.

    python -c "import numpy as np; from rtl_sweep.metrics import binary_scores; print(binary_scores(np.array([1,0,1]), np.array([1,0,0])))"
"""

from __future__ import annotations

import numpy as np

from rtl_sweep.pruning import Mask, kept, size, union


def binary_scores(pred: np.ndarray, true: np.ndarray) -> dict[str, float]:
    """Balanced accuracy (TPR + TNR) / 2, precision and recall of one binary detector.

    An empty denominator scores 0 (sklearn's zero_division=0), never NaN, so averages stay defined.
    """
    pred, true = np.asarray(pred, bool), np.asarray(true, bool)
    tp = int((pred & true).sum())
    tn = int((~pred & ~true).sum())
    fp = int((pred & ~true).sum())
    fn = int((~pred & true).sum())
    tpr = tp / (tp + fn) if tp + fn else 0.0
    tnr = tn / (tn + fp) if tn + fp else 0.0
    precision = tp / (tp + fp) if tp + fp else 0.0
    return {"balanced_accuracy": (tpr + tnr) / 2, "precision": precision, "recall": tpr}


def one_vs_rest(pred_member: np.ndarray, true_ids: np.ndarray) -> tuple[dict, list[dict]]:
    """pred_member [K, N] bool (detector k says 'in subset k'); returns (mean scores, per subset)."""
    per = [binary_scores(pred_member[k], true_ids == k) for k in range(pred_member.shape[0])]
    mean = {key: float(np.mean([p[key] for p in per])) for key in per[0]}
    return mean, per


def multiclass_scores(pred: np.ndarray, true: np.ndarray, num_classes: int) -> tuple[dict, list[dict]]:
    """Accuracy plus per-class one-vs-rest scores (macro averaged)."""
    member = np.stack([pred == c for c in range(num_classes)])
    mean, per = one_vs_rest(member, true)
    mean["accuracy"] = float((pred == true).mean())
    return mean, per


def param_counts(masks: list[Mask], dense_params: int, count: str,
                 dense_per_copy: int | None = None) -> dict[str, int]:
    """Weights a method must store. 'union': K masks over ONE shared tensor (RTL after joint
    retraining); 'sum': K separately trained copies, each storing `dense_per_copy` dense weights
    (default: all of them); 'single': one model; 'masks': K bit masks over seed-regenerated weights."""
    if count == "sum" and dense_per_copy is not None:
        dense_params = dense_per_copy
    if count == "union":
        prunable, copies = kept(union(masks)), 1
    elif count == "sum":
        prunable, copies = sum(kept(m) for m in masks), len(masks)
    elif count == "single":
        prunable, copies = kept(masks[0]), 1
    elif count == "masks":
        # K bit masks over weights regenerated from the seed (SupSup): the bits, in 32-bit words,
        # are all it stores; its dense weights are regenerated too.
        prunable, copies, dense_params = -(-len(masks) * size(masks[0]) // 32), 1, 0
    else:
        raise ValueError(count)
    return {"params_prunable": prunable, "params_dense": dense_params,
            "params_total": prunable + dense_params * copies, "params_count": count}
