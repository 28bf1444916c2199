"""Pruning: schedules, magnitude ranking (masks only shrink, exact counts, ties), rewinding."""

from __future__ import annotations

import pytest
import torch

from rtl_sweep.errors import ConfigError
from rtl_sweep.pruning import (density, kept, kept_schedule, ones_mask, prune, rewind, shrinks, size,
                               union, validate_mask)

SHAPES = {"conv1.weight": (8, 1, 3, 3), "conv2.weight": (16, 8, 3, 3), "fc1.weight": (32, 64)}


def _weights(seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {n: torch.randn(s, generator=g) for n, s in SHAPES.items()}


def _ones() -> dict[str, torch.Tensor]:
    return {n: torch.ones(s, dtype=torch.bool) for n, s in SHAPES.items()}


# ---- kept_schedule ---------------------------------------------------------------------------
@pytest.mark.parametrize("total, p", [(1000, 0.5), (105_104, 0.2), (12_345, 0.3), (997, 0.1)])
def test_density_after_n_rounds_is_geometric(total, p):
    sched = kept_schedule(total, "fraction", p, 0, 0.99)
    assert sched[0] == total
    floor = sched[-1]
    for n, k in enumerate(sched):
        if k > floor:  # every level but the clamped last one
            assert abs(k / total - (1 - p) ** n) <= 1 / total, (n, k)
    assert all(a > b for a, b in zip(sched, sched[1:]))  # strictly decreasing


@pytest.mark.parametrize("total, target, expected_last", [(1000, 0.9, 100), (1000, 0.875, 125),
                                                          (105_104, 0.98, 2103), (7, 0.5, 4)])
def test_schedule_lands_exactly_on_target(total, target, expected_last):
    for mode, p, count in (("fraction", 0.5, 0), ("fraction", 0.2, 0), ("count", 0.0, max(1, total // 10))):
        sched = kept_schedule(total, mode, p, count, target)
        assert sched[-1] == expected_last, (mode, sched)
        assert sched[-2] > expected_last  # no level below or equal to the target before the end


def test_schedule_examples():
    assert kept_schedule(1000, "fraction", 0.5, 0, 0.9) == [1000, 500, 250, 125, 100]
    assert kept_schedule(1000, "count", 0.5, 300, 0.9) == [1000, 700, 400, 100]


def test_count_mode_removes_a_fixed_number_per_round():
    sched = kept_schedule(50_000, "count", 0.0, 4096, 0.75)
    diffs = [a - b for a, b in zip(sched, sched[1:])]
    assert all(d == 4096 for d in diffs[:-1]) and 0 < diffs[-1] <= 4096
    assert sched[-1] == 12_500


@pytest.mark.parametrize("count", [1000, 1001, 10**6])
def test_count_at_least_total_is_an_error(count):
    with pytest.raises(ConfigError) as e:
        kept_schedule(1000, "count", 0.0, count, 0.5)
    assert "1000" in e.value.problem and e.value.fix


def test_target_zero_gives_only_the_dense_level():
    assert kept_schedule(1000, "fraction", 0.5, 0, 0.0) == [1000]
    assert kept_schedule(1000, "count", 0.0, 10, 0.0) == [1000]


@pytest.mark.parametrize("target", [1.0, 1.2, -0.01])
def test_schedule_rejects_target_outside_unit_interval(target):
    with pytest.raises(ConfigError):
        kept_schedule(1000, "fraction", 0.5, 0, target)


def test_tiny_fraction_still_makes_progress():
    sched = kept_schedule(7, "fraction", 0.01, 0, 0.5)   # round() alone would stall at 7
    assert sched == [7, 6, 5, 4]


# ---- prune -------------------------------------------------------------------------------------
@pytest.mark.parametrize("ranking", ["global", "layerwise"])
def test_masks_only_shrink_over_rounds_with_fresh_random_weights(ranking):
    total = size(_ones())
    sched = kept_schedule(total, "fraction", 0.3, 0, 0.95)
    mask = _ones()
    for level, keep in enumerate(sched[1:], start=1):
        new = prune(mask, _weights(level), keep, ranking)  # new weights every round, as after training
        validate_mask(new)
        assert shrinks(mask, new)
        assert all(not bool((new[n] & ~mask[n]).any()) for n in mask)  # new is a subset of old
        assert kept(new) < kept(mask)
        mask = new


def test_global_ranking_keeps_exactly_the_scheduled_count():
    total = size(_ones())
    mask = _ones()
    for level, keep in enumerate(kept_schedule(total, "fraction", 0.5, 0, 0.99)[1:], start=1):
        mask = prune(mask, _weights(level), keep, "global")
        assert kept(mask) == keep
        assert density(mask) == keep / total


def test_global_ranking_keeps_the_largest_magnitudes():
    w = _weights(0)
    mask = prune(_ones(), w, 500, "global")
    kept_abs = torch.cat([w[n].abs()[mask[n]] for n in w])
    dropped_abs = torch.cat([w[n].abs()[~mask[n]] for n in w])
    assert kept_abs.min() >= dropped_abs.max()


def test_layerwise_keeps_each_layers_share():
    total = size(_ones())
    keep = 1000
    mask = prune(_ones(), _weights(0), keep, "layerwise")
    for n, m in mask.items():
        assert int(m.sum()) == round(keep * m.numel() / total), n
        layer_w = _weights(0)[n].abs()
        assert layer_w[m].min() >= layer_w[~m].max()  # ranked within the layer
    # a second round keeps the same share per layer, so every layer tracks the overall density
    mask2 = prune(mask, _weights(1), 500, "layerwise")
    for n, m in mask2.items():
        assert int(m.sum()) == round(500 * m.numel() / total)
        assert abs(m.float().mean().item() - 500 / total) < 1.0 / m.numel() + 1e-9


def test_global_ranking_can_leave_layers_at_very_different_densities():
    w = _weights(0)
    w["fc1.weight"] = w["fc1.weight"] * 0.01  # one layer of small weights is pruned first
    mask = prune(_ones(), w, 1000, "global")
    assert mask["fc1.weight"].float().mean() < 0.05 < mask["conv1.weight"].float().mean()


@pytest.mark.parametrize("ranking", ["global", "layerwise"])
def test_ties_are_deterministic(ranking):
    equal = {n: torch.full(s, 0.5) for n, s in SHAPES.items()}
    a = prune(_ones(), equal, 777, ranking)
    b = prune(_ones(), {n: t.clone() for n, t in equal.items()}, 777, ranking)
    assert all(torch.equal(a[n], b[n]) for n in a)
    if ranking == "global":
        assert kept(a) == 777
        # the stable sort breaks ties by position: the first 777 weights in layer order survive
        flat = torch.cat([a[n].flatten() for n in SHAPES])
        assert bool(flat[:777].all()) and not bool(flat[777:].any())


@pytest.mark.parametrize("ranking", ["global", "layerwise"])
def test_pruned_weights_are_never_revived_even_when_large(ranking):
    mask = prune(_ones(), _weights(0), 1200, ranking)
    huge = {n: torch.where(mask[n], torch.full_like(w, 1e-3), torch.full_like(w, 1e6))
            for n, w in _weights(1).items()}  # every pruned position now has the largest weight
    new = prune(mask, huge, 600, ranking)
    assert shrinks(mask, new)
    assert sum(int((new[n] & ~mask[n]).sum()) for n in new) == 0
    if ranking == "global":
        assert kept(new) == 600


def test_keep_above_survivors_keeps_the_mask_and_revives_nothing():
    mask = prune(_ones(), _weights(0), 300, "global")
    again = prune(mask, _weights(1), 10_000, "global")
    assert all(torch.equal(mask[n], again[n]) for n in mask)


def test_zero_weights_among_survivors_still_count_as_survivors():
    w = {n: torch.zeros(s) for n, s in SHAPES.items()}   # a rewound, fully-zero tensor
    mask = prune(_ones(), w, 100, "global")
    assert kept(mask) == 100


def test_unknown_ranking():
    with pytest.raises(ConfigError, match="ranking"):
        prune(_ones(), _weights(0), 10, "random")


def test_validate_mask_refuses_non_bool():
    with pytest.raises(ValueError, match="bool"):
        validate_mask({"a": torch.ones(3)})


def test_union_and_ones_mask():
    a = {"x": torch.tensor([True, False, False, True])}
    b = {"x": torch.tensor([False, False, True, True])}
    u = union([a, b])
    assert u["x"].tolist() == [True, False, True, True]
    assert a["x"].tolist() == [True, False, False, True]  # inputs untouched
    params = {"w": torch.randn(2, 3), "b": torch.randn(3)}
    ones = ones_mask(params, ["w"])
    assert list(ones) == ["w"] and ones["w"].dtype == torch.bool and bool(ones["w"].all())


# ---- rewind ------------------------------------------------------------------------------------
def test_rewind_restores_init_bit_for_bit_on_kept_weights():
    init = {**_weights(42), "conv1.bias": torch.randn(8), "classifier.weight": torch.randn(10, 32)}
    mask = prune(_ones(), _weights(7), 900, "global")   # a mask from some trained weights
    out = rewind(init, mask)
    assert set(out) == set(init)
    for n, p in init.items():
        if n in mask:
            assert torch.equal(out[n][mask[n]], p[mask[n]])       # bit for bit
            assert bool((out[n][~mask[n]] == 0).all())            # exactly zero elsewhere
        else:
            assert torch.equal(out[n], p)                         # dense parts untouched
        assert out[n].dtype == p.dtype and out[n].data_ptr() != p.data_ptr()
    out["conv1.weight"].add_(1.0)       # a fresh copy: training it must not touch the init
    assert torch.equal(init["conv1.weight"], _weights(42)["conv1.weight"])


def test_rewind_with_all_ones_mask_is_the_init():
    init = _weights(3)
    out = rewind(init, _ones())
    assert all(torch.equal(out[n], init[n]) for n in init)
