"""Mask similarity: Jaccard matrices, the chance level, and the label-free collapse detector."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from rtl_sweep.collapse import CollapseDetector
from rtl_sweep.similarity import (ALL, chance, jaccard_matrices, off_diag_mean,
                                  summary, ticket_means)


def _t(bits: list[int]) -> torch.Tensor:
    return torch.tensor(bits, dtype=torch.bool)


# three tickets over two layers: a (4 weights), b (4 weights)
M0 = {"a": _t([1, 1, 0, 0]), "b": _t([1, 1, 1, 1])}
M1 = {"a": _t([1, 0, 1, 0]), "b": _t([1, 1, 0, 0])}
M2 = {"a": _t([0, 0, 0, 1]), "b": _t([1, 1, 0, 0])}


def test_jaccard_by_hand():
    mats = jaccard_matrices([M0, M1, M2])
    assert set(mats) == {"a", "b", ALL}
    a, b, g = mats["a"]["jaccard"], mats["b"]["jaccard"], mats[ALL]["jaccard"]
    assert a[0, 1] == pytest.approx(1 / 3) and a[0, 2] == 0.0 and a[1, 2] == 0.0
    assert b[0, 1] == pytest.approx(2 / 4) and b[0, 2] == pytest.approx(2 / 4) and b[1, 2] == 1.0
    # global: intersections and unions summed over layers (not a mean of layer Jaccards)
    assert g[0, 1] == pytest.approx((1 + 2) / (3 + 4))
    assert g[0, 2] == pytest.approx((0 + 2) / (3 + 4))
    assert g[1, 2] == pytest.approx((0 + 2) / (3 + 2))
    assert mats["a"]["density"].tolist() == [0.5, 0.5, 0.25]
    assert mats[ALL]["density"].tolist() == [6 / 8, 4 / 8, 3 / 8]
    assert mats["a"]["size"] == 4 and mats[ALL]["size"] == 8
    assert mats["a"]["chance"][0, 2] == pytest.approx(chance(0.5, 0.25))


def test_jaccard_matrices_are_symmetric_with_unit_diagonal():
    g = torch.Generator().manual_seed(0)
    masks = [{"x": torch.rand(30, 20, generator=g) < d, "y": torch.rand(50, generator=g) < d}
             for d in (0.2, 0.5, 0.7, 0.9)]
    for pack in jaccard_matrices(masks).values():
        J, C = pack["jaccard"], pack["chance"]
        assert J.shape == (4, 4) and np.allclose(J, J.T) and np.allclose(C, C.T)
        assert np.allclose(np.diag(J), 1.0)
        assert ((J >= 0) & (J <= 1)).all()


def test_ticket_means_and_off_diag_mean():
    J = np.array([[1.0, 0.2, 0.4], [0.2, 1.0, 0.6], [0.4, 0.6, 1.0]])
    assert np.allclose(ticket_means(J), [0.3, 0.4, 0.5])
    assert off_diag_mean(J) == pytest.approx(0.4)
    assert math.isnan(off_diag_mean(np.ones((1, 1))))


@pytest.mark.parametrize("d", [0.75, 0.5, 0.25, 0.1, 0.02, 1.0])
def test_chance_of_equal_densities(d):
    assert chance(d, d) == pytest.approx(d / (2 - d))


def test_chance_examples_and_edges():
    assert [round(chance(d, d), 2) for d in (0.75, 0.5, 0.25)] == [0.6, 0.33, 0.14]
    assert chance(0.0, 0.0) == 0.0
    assert chance(0.5, 0.2) == pytest.approx(0.1 / (0.5 + 0.2 - 0.1))


@pytest.mark.parametrize("d", [0.75, 0.5, 0.25, 0.05])
def test_random_masks_sit_at_chance(d):
    g = torch.Generator().manual_seed(int(d * 100))
    masks = [{"w": torch.rand(20_000, generator=g) < d} for _ in range(12)]
    mats = jaccard_matrices(masks)
    assert off_diag_mean(mats[ALL]["jaccard"]) == pytest.approx(d / (2 - d), abs=0.01)
    s = summary(mats)
    assert abs(s["global_relative"]) < 0.05 and abs(s["layer_relative"]) < 0.05


def test_summary_keys_and_layer_aware_chance():
    g = torch.Generator().manual_seed(1)
    # one dense layer and one very sparse layer: random within each layer
    masks = [{"dense": torch.rand(2000, generator=g) < 0.95, "sparse": torch.rand(8000, generator=g) < 0.1}
             for _ in range(5)]
    s = summary(jaccard_matrices(masks))
    assert set(s) == {"mean_jaccard", "jaccard_chance", "global", "global_relative", "layer_relative"}
    assert s["global"] == s["mean_jaccard"]
    # overall density 0.27 would give a naive chance of ~0.16, far below the raw J (~0.54): the
    # per-layer chance explains the raw J, so both relative signals sit near 0
    naive = chance(0.27, 0.27)
    assert s["mean_jaccard"] > 3 * naive
    assert s["jaccard_chance"] == pytest.approx(s["mean_jaccard"], rel=0.05)
    assert abs(s["global_relative"]) < 0.05 and abs(s["layer_relative"]) < 0.1


def test_identical_masks_score_above_chance():
    g = torch.Generator().manual_seed(2)
    m = {"w": torch.rand(5000, generator=g) < 0.3}
    s = summary(jaccard_matrices([m, {"w": m["w"].clone()}, {"w": m["w"].clone()}]))
    assert s["mean_jaccard"] == 1.0
    assert s["layer_relative"] == pytest.approx(math.log(1 / chance(0.3, 0.3)), rel=0.05)


# ---- collapse detector --------------------------------------------------------------------------
def _feed(det: CollapseDetector, values) -> list[bool]:
    return [det.update(v)[0] for v in values]


def test_never_fires_before_three_values():
    det = CollapseDetector(window=2, threshold=0.01)
    assert det.update(0.0) == (False, 0.0)
    assert det.update(100.0) == (False, 0.0)   # a huge first change still has no trend to leave
    assert det.fired_at is None


@pytest.mark.parametrize("slope", [0.3, -0.3, 0.0, 2.0])
def test_steady_linear_trend_never_fires(slope):
    det = CollapseDetector(window=2, threshold=0.1)
    fired = _feed(det, [1.0 + slope * i for i in range(12)])
    assert not any(fired) and det.fired_at is None


@pytest.mark.parametrize("jump", [+1.5, -1.5])
def test_abrupt_jump_fires_in_either_direction(jump):
    values = [0.5, 0.45, 0.40, 0.35, 0.35 - 0.05 + jump, 0.35 - 0.10 + jump]
    det = CollapseDetector(window=2, threshold=0.5)
    out = [det.update(v) for v in values]
    fired = [f for f, _ in out]
    assert fired[:4] == [False] * 4 and fired[4]
    assert np.sign(out[4][1]) == np.sign(jump) and abs(out[4][1]) == pytest.approx(1.5)
    assert det.fired_at == 4


def test_threshold_decides():
    values = [0.0, 0.1, 0.2, 0.6]          # last change departs from the trend by 0.3
    assert not any(_feed(CollapseDetector(2, 0.35), values))
    assert _feed(CollapseDetector(2, 0.25), values)[-1]


def test_window_sets_the_trend():
    # changes 0.0, 0.0, 0.3, then 0.3: against a window of 1 the last change is on trend,
    # against a window of 3 it departs by 0.2
    values = [1.0, 1.0, 1.0, 1.3, 1.6]
    d1, d3 = CollapseDetector(1, 0.1), CollapseDetector(3, 0.1)
    last1, last3 = [d1.update(v) for v in values][-1], [d3.update(v) for v in values][-1]
    assert last1 == (False, pytest.approx(0.0, abs=1e-12))
    assert last3[0] and last3[1] == pytest.approx(0.2)
