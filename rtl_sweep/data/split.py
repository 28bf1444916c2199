"""Deterministic, stratified train/test splits and per-class caps; numpy generators only, no global state.

    python -c "import numpy as np; from rtl_sweep.data.split import stratified_split; \
print(stratified_split(np.repeat(np.arange(3), 5), None, 0.2, seed=0))"
"""

from __future__ import annotations

import numpy as np

# Separate streams of one seed, so that changing the cap never changes how the split shuffles.
_CAP_STREAM, _SPLIT_STREAM = 1, 2


def cap_per_class(y: np.ndarray, max_per_class: int, seed: int) -> np.ndarray:
    """Sorted indices that keep the first `max_per_class` samples of each class in a seeded order."""
    if max_per_class <= 0:
        return np.arange(len(y), dtype=np.int64)
    order = np.random.default_rng([seed, _CAP_STREAM]).permutation(len(y))
    keep = [order[y[order] == c][:max_per_class] for c in np.unique(y)]
    return np.sort(np.concatenate(keep)).astype(np.int64)


def strata(y: np.ndarray, g: np.ndarray | None) -> np.ndarray:
    """label*G + group when every such stratum has >= 2 samples (both sides of the split can hold
    it), else the label alone."""
    if g is None:
        return y
    joint = y.astype(np.int64) * (int(g.max()) + 1) + g
    _, counts = np.unique(joint, return_counts=True)
    return joint if counts.min() >= 2 else y


def stratified_split(y: np.ndarray, g: np.ndarray | None, test_fraction: float,
                     seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train_idx, test_idx), both sorted int64, holding out `test_fraction` of every stratum.

    A stratum of n >= 2 samples sends round(n * test_fraction) of them to test, clipped to
    [1, n - 1] so each side sees it; a stratum of one sample stays in train.
    """
    s = strata(y, g)
    rng = np.random.default_rng([seed, _SPLIT_STREAM])
    test = []
    for value in np.unique(s):  # np.unique is sorted: the draw order does not depend on data order
        idx = np.flatnonzero(s == value)
        if len(idx) < 2:
            continue
        n_test = min(max(int(round(len(idx) * test_fraction)), 1), len(idx) - 1)
        test.append(rng.permutation(idx)[:n_test])
    test_idx = np.sort(np.concatenate(test)).astype(np.int64) if test else np.zeros(0, np.int64)
    train_mask = np.ones(len(y), bool)
    train_mask[test_idx] = False
    return np.flatnonzero(train_mask).astype(np.int64), test_idx


def source_split(y: np.ndarray, source: np.ndarray, test_fraction: float,
                 seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train_idx, test_idx) with every row of one source on the same side: the sources are split
    stratified by the label of their first row, then each row follows its source."""
    ids, first, inverse = np.unique(source, return_index=True, return_inverse=True)
    _, test_sources = stratified_split(y[first], None, test_fraction, seed)
    is_test = np.zeros(len(ids), bool)
    is_test[test_sources] = True
    test_mask = is_test[inverse.reshape(-1)]
    return np.flatnonzero(~test_mask).astype(np.int64), np.flatnonzero(test_mask).astype(np.int64)
