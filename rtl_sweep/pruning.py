"""Masks, magnitude ranking (global or layer-wise), sparsity schedules and rewinding. Pure torch.

    python -c "from rtl_sweep.pruning import kept_schedule; print(kept_schedule(1000, 'fraction', 0.5, 0, 0.9))"

A mask is a dict {prunable parameter name: bool tensor}; True keeps the weight. Masks only shrink:
pruning ranks the surviving weights alone, so a weight once removed never comes back.
"""

from __future__ import annotations

import math

import torch

from rtl_sweep.errors import ConfigError

Mask = dict[str, torch.Tensor]


def ones_mask(params: dict[str, torch.Tensor], names: list[str]) -> Mask:
    return {n: torch.ones_like(params[n], dtype=torch.bool) for n in names}


def validate_mask(mask: Mask) -> Mask:
    for n, m in mask.items():
        if m.dtype != torch.bool:
            raise ValueError(f"mask for {n} must be bool, got {m.dtype}")
    return mask


def kept(mask: Mask) -> int:
    return int(sum(int(m.sum()) for m in mask.values()))


def size(mask: Mask) -> int:
    return int(sum(m.numel() for m in mask.values()))


def density(mask: Mask) -> float:
    return kept(mask) / max(size(mask), 1)


def union(masks: list[Mask]) -> Mask:
    out = {n: m.clone() for n, m in masks[0].items()}
    for mask in masks[1:]:
        for n in out:
            out[n] |= mask[n]
    return out


def kept_schedule(total: int, mode: str, fraction: float, count: int, target_sparsity: float) -> list[int]:
    """Kept prunable weights per level, level 0 = all. The last level lands exactly on the target.

    fraction mode keeps round(total * (1 - p) ** level), so density after n rounds is (1 - p) ** n
    up to one weight of rounding (rounding is not compounded round over round).
    """
    if not 0.0 <= target_sparsity < 1.0:
        raise ConfigError(f"target sparsity {target_sparsity} is outside [0, 1)", "use e.g. 0.9")
    floor = max(1, math.ceil(total * (1.0 - target_sparsity) - 1e-9))
    if mode == "count" and count >= total:
        raise ConfigError(f"prune.count={count} removes every one of the model's {total} prunable "
                          "weights in one round", f"use a count below {total}")
    out = [total]
    while out[-1] > floor:
        level = len(out)
        nxt = round(total * (1.0 - fraction) ** level) if mode == "fraction" else out[-1] - count
        nxt = max(nxt, floor)
        if nxt >= out[-1]:  # rounding stalled: force progress by one weight
            nxt = out[-1] - 1
        out.append(nxt)
    return out


def prune(mask: Mask, weights: dict[str, torch.Tensor], keep: int, ranking: str = "global") -> Mask:
    """Keep the `keep` largest-magnitude surviving weights (global) or the same share per layer.

    Ties are broken by a stable sort on position, so the result is deterministic.
    """
    if ranking == "global":
        names = list(mask)
        scores = torch.cat([_scores(weights[n], mask[n]) for n in names])
        chosen = _top(scores, keep)
        out, start = {}, 0
        for n in names:
            numel = mask[n].numel()
            out[n] = chosen[start:start + numel].view_as(mask[n])
            start += numel
        return out
    if ranking == "layerwise":
        total = size(mask)
        out = {}
        for n, m in mask.items():
            layer_keep = min(int(m.sum()), max(1, round(keep * m.numel() / total)))
            out[n] = _top(_scores(weights[n], m), layer_keep).view_as(m)
        return out
    raise ConfigError(f"ranking {ranking!r} is unknown", "use global or layerwise")


def _scores(w: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    s = w.detach().abs().flatten().to(torch.float64).cpu()
    return torch.where(m.flatten().cpu(), s, torch.full_like(s, -1.0))  # pruned weights rank last


def _top(scores: torch.Tensor, keep: int) -> torch.Tensor:
    order = torch.argsort(scores, descending=True, stable=True)
    chosen = torch.zeros_like(scores, dtype=torch.bool)
    chosen[order[:keep]] = True
    return chosen & (scores >= 0)


def rewind(start: dict[str, torch.Tensor], mask: Mask) -> dict[str, torch.Tensor]:
    """Fresh parameters: the rewind point with pruned weights set to exactly zero."""
    return {n: (p * mask[n].to(p.dtype) if n in mask else p).detach().clone() for n, p in start.items()}


def shrinks(old: Mask, new: Mask) -> bool:
    """True when `new` keeps no weight that `old` had removed."""
    return all(bool((new[n] & ~old[n]).sum() == 0) for n in old)
