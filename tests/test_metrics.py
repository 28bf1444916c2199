"""Scores against scikit-learn, and parameter counts: union vs sum vs single."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, balanced_accuracy_score, precision_score, recall_score

from rtl_sweep.metrics import binary_scores, multiclass_scores, one_vs_rest, param_counts


def _sk_binary(pred, true) -> dict:
    return {"balanced_accuracy": balanced_accuracy_score(true, pred),
            "precision": precision_score(true, pred, zero_division=0),
            "recall": recall_score(true, pred, zero_division=0)}


@pytest.mark.parametrize("seed, prevalence, pred_rate", [(0, 0.5, 0.5), (1, 0.1, 0.3), (2, 0.1, 0.02),
                                                         (3, 0.9, 0.7), (4, 0.3, 0.0)])
def test_binary_scores_match_sklearn(seed, prevalence, pred_rate):
    rng = np.random.default_rng(seed)
    true = rng.random(500) < prevalence
    pred = rng.random(500) < pred_rate           # pred_rate 0: no positive prediction at all
    ours, ref = binary_scores(pred, true), _sk_binary(pred, true)
    assert set(ours) == set(ref)
    for key in ref:
        assert ours[key] == pytest.approx(ref[key], abs=1e-12), key


def test_binary_scores_by_hand():
    # TP=2 FN=1 TN=3 FP=2: TPR 2/3, TNR 3/5, precision 2/4
    pred = np.array([1, 1, 0, 1, 1, 0, 0, 0])
    true = np.array([1, 1, 1, 0, 0, 0, 0, 0])
    s = binary_scores(pred, true)
    assert s["recall"] == pytest.approx(2 / 3)
    assert s["precision"] == pytest.approx(0.5)
    assert s["balanced_accuracy"] == pytest.approx((2 / 3 + 3 / 5) / 2)


def test_binary_scores_never_nan():
    s = binary_scores(np.zeros(5, bool), np.zeros(5, bool))   # no positives anywhere
    assert all(np.isfinite(v) for v in s.values())
    assert s["precision"] == 0.0 and s["recall"] == 0.0 and s["balanced_accuracy"] == 0.5


def test_one_vs_rest_matches_sklearn_per_subset_and_mean():
    rng = np.random.default_rng(7)
    K, N = 4, 400
    true_ids = rng.integers(0, K, N)
    member = rng.random((K, N)) < 0.3
    for k in range(K):
        member[k] |= (true_ids == k) & (rng.random(N) < 0.6)   # detectors better than chance
    mean, per = one_vs_rest(member, true_ids)
    assert len(per) == K
    for k in range(K):
        ref = _sk_binary(member[k], true_ids == k)
        for key in ref:
            assert per[k][key] == pytest.approx(ref[key], abs=1e-12)
    for key in ("balanced_accuracy", "precision", "recall"):
        assert mean[key] == pytest.approx(np.mean([_sk_binary(member[k], true_ids == k)[key]
                                                   for k in range(K)]), abs=1e-12)


def test_multiclass_scores_match_sklearn():
    rng = np.random.default_rng(3)
    true = rng.integers(0, 5, 300)
    pred = np.where(rng.random(300) < 0.6, true, rng.integers(0, 5, 300))
    mean, per = multiclass_scores(pred, true, 5)
    assert mean["accuracy"] == pytest.approx(accuracy_score(true, pred), abs=1e-12)
    assert mean["recall"] == pytest.approx(recall_score(true, pred, average="macro", zero_division=0))
    assert mean["precision"] == pytest.approx(precision_score(true, pred, average="macro",
                                                              zero_division=0))
    assert len(per) == 5
    for c in range(5):
        assert per[c]["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(true == c, pred == c))


def _m(*bits: list[int]) -> dict:
    return {"a": torch.tensor(bits[0], dtype=torch.bool), "b": torch.tensor(bits[1], dtype=torch.bool)}


def test_param_counts_union_sum_single():
    m0 = _m([1, 1, 0, 0], [1, 0, 0])      # 3 kept
    m1 = _m([0, 1, 1, 0], [1, 1, 0])      # 4 kept, overlap with m0: 2
    m2 = _m([0, 0, 0, 1], [0, 0, 1])      # 2 kept, disjoint from both
    dense = 10
    union = param_counts([m0, m1, m2], dense, "union")
    assert union == {"params_prunable": 7, "params_dense": 10, "params_total": 17,
                     "params_count": "union"}
    summed = param_counts([m0, m1, m2], dense, "sum")
    assert summed["params_prunable"] == 9 and summed["params_total"] == 9 + 3 * 10   # K dense copies
    single = param_counts([m1], dense, "single")
    assert single["params_prunable"] == 4 and single["params_total"] == 14
    # union is never below the largest ticket nor above the sum
    assert max(3, 4, 2) <= union["params_prunable"] <= summed["params_prunable"]
    # identical masks: the union costs one ticket, the sum costs K
    same = param_counts([m0, m0], dense, "union")
    assert same["params_prunable"] == 3
    assert param_counts([m0, m0], dense, "sum")["params_prunable"] == 6
    with pytest.raises(ValueError):
        param_counts([m0], dense, "max")
