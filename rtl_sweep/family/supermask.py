"""Supermasks learned from real scores: top-c% per layer, straight-through to the scores. Pure torch.

    python -c "import torch; from rtl_sweep.family.supermask import top_share; print(top_share(torch.randn(8), 0.25))"

Edge-popup (Ramanujan et al. 2020, "What's hidden in a randomly weighted neural network?", sec. 3):
the forward pass uses the weights whose |score| is among the top c% of their layer; the backward pass
treats that selection as the identity, so a score gets the gradient of its masked weight times the
weight. SupSup (Wortsman et al. 2020) learns its supermasks this way; WSN (Kang et al. 2022) learns
its per-task masks from scores by the same straight-through rule.
"""

from __future__ import annotations

import math

import torch

from rtl_sweep.pruning import Mask


def top_share(scores: torch.Tensor, density: float) -> torch.Tensor:
    """Bool mask of the round(density * numel) largest |scores| (at least one); ties broken by a
    stable sort on position, so the same scores give the same mask."""
    keep = max(1, round(density * scores.numel()))
    order = torch.argsort(scores.detach().abs().flatten(), descending=True, stable=True)
    chosen = torch.zeros(scores.numel(), dtype=torch.bool, device=scores.device)
    chosen[order[:keep]] = True
    return chosen.view_as(scores)


def straight_through(scores: torch.Tensor, density: float) -> torch.Tensor:
    """The top-share mask as floats in the forward pass (exactly 0 / 1: a - a.detach() is 0), with
    the gradient of |scores| in the backward pass."""
    a = scores.abs()
    return top_share(scores, density).to(a.dtype) + (a - a.detach())


def masks_of(scores: dict[str, torch.Tensor], density: float) -> Mask:
    return {n: top_share(s, density) for n, s in scores.items()}


def init_scores(like: dict[str, torch.Tensor], seed: int) -> dict[str, torch.Tensor]:
    """Edge-popup's score init: kaiming-uniform with a = sqrt(5), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    per layer, from a seeded generator (the same seed gives the same scores on any device)."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for n, w in like.items():
        bound = 1.0 / math.sqrt(max(1, w[0].numel()))  # fan_in: one output unit's inputs
        s = (torch.rand(w.shape, generator=g, dtype=torch.float32) * 2 - 1) * bound
        out[n] = s.to(w.device).requires_grad_(True)
    return out
