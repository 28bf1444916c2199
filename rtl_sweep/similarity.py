"""Mask similarity: Jaccard (global, per layer, K x K), its chance level, the watchable signals.

    python -c "from rtl_sweep.similarity import chance; print(chance(0.5, 0.5))"   # 0.333...

Chance: two independent random masks of densities a and b have expected Jaccard ab / (a + b - ab)
(d / (2 - d) when a = b = d). Under a global ranking layers end at very different densities, so the
fair baseline is per layer; `relative` signals divide by it. The collapse detector that watches
these signals is in rtl_sweep/collapse.py.
"""

from __future__ import annotations

import math

import numpy as np

from rtl_sweep.pruning import Mask

ALL = "__all__"
_J_FLOOR = 1e-6  # Jaccard floor inside log(J / chance)


def chance(a: float, b: float) -> float:
    denom = a + b - a * b
    return a * b / denom if denom > 0 else 0.0


def jaccard_matrices(masks: list[Mask]) -> dict[str, dict[str, np.ndarray]]:
    """{layer or '__all__': {'jaccard': KxK, 'chance': KxK, 'density': K}}."""
    layers = list(masks[0])
    K = len(masks)
    flat = {n: np.stack([m[n].flatten().cpu().numpy() for m in masks]).astype(np.float32) for n in layers}
    out = {}
    inter_all = np.zeros((K, K))
    count_all = np.zeros(K)
    size_all = 0
    for n in layers:
        a = flat[n]
        inter = a @ a.T
        count = a.sum(1)
        inter_all += inter
        count_all += count
        size_all += a.shape[1]
        out[n] = _pack(inter, count, a.shape[1])
    out[ALL] = _pack(inter_all, count_all, size_all)
    return out


def _pack(inter: np.ndarray, count: np.ndarray, size: int) -> dict:
    uni = count[:, None] + count[None, :] - inter
    jac = np.divide(inter, uni, out=np.zeros_like(inter), where=uni > 0)
    dens = count / max(size, 1)
    ch = np.array([[chance(a, b) for b in dens] for a in dens])
    return {"jaccard": jac, "chance": ch, "density": dens, "size": size}


def off_diag_mean(m: np.ndarray) -> float:
    K = m.shape[0]
    return float((m.sum() - np.trace(m)) / (K * (K - 1))) if K > 1 else float("nan")


def ticket_means(m: np.ndarray) -> np.ndarray:
    """Each ticket's mean Jaccard to all other tickets."""
    K = m.shape[0]
    return (m.sum(1) - np.diag(m)) / max(K - 1, 1)


def summary(mats: dict[str, dict]) -> dict[str, float]:
    """Mean Jaccard (raw, global), its per-layer-aware chance, and the three watchable signals."""
    layers = [n for n in mats if n != ALL]
    g = mats[ALL]
    raw = off_diag_mean(g["jaccard"])
    # Global chance that respects layer densities: expected intersection / expected union, summed.
    K = len(g["density"])
    exp_inter = np.zeros((K, K))
    exp_union = np.zeros((K, K))
    for n in layers:
        d = mats[n]["density"]
        size = mats[n]["size"]
        exp_inter += size * np.outer(d, d)
        exp_union += size * (d[:, None] + d[None, :] - np.outer(d, d))
    layer_chance_global = off_diag_mean(np.divide(exp_inter, exp_union, out=np.zeros_like(exp_inter),
                                                  where=exp_union > 0))
    logs = []
    for n in layers:
        j, c = off_diag_mean(mats[n]["jaccard"]), off_diag_mean(mats[n]["chance"])
        if c > 0:  # a layer whose masks became disjoint (j = 0) must move the signal, not vanish
            logs.append(math.log(max(j, _J_FLOOR) / c))
    return {
        "mean_jaccard": raw,
        "jaccard_chance": layer_chance_global,
        "global": raw,
        "global_relative": math.log(max(raw, _J_FLOOR) / layer_chance_global) if layer_chance_global > 0 else 0.0,
        "layer_relative": float(np.mean(logs)) if logs else 0.0,
    }
