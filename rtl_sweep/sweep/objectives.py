"""What a trial reports after each level, and where its objectives are read (`at`).

    python -c "from rtl_sweep.sweep.objectives import read_at; print(read_at({0: {'sparsity': 0.0, 'a': 1.0}}, 'a', 'best', 'max'))"

A trial's history is one dict per finished level: the reported RTL row's metrics plus the advantages
of that level (rtl_sweep/advantages.py). The equal-parameter baseline lags a level, so the report
after level L carries advantage_single_equal of level L - 1 (the latest that exists; `advantage_level`
says which), and one more report after the run's last wave carries the last level's. A trial
stopped early keeps its last complete level's.
"""

from __future__ import annotations

import math

from rtl_sweep import advantages
from rtl_sweep.sweep.space import REPORTED_METRICS, SweepSpec

# Reported for the latest level that has an equal-parameter baseline, not the current level.
LAGGING = ("advantage_single_equal", "score_rtl", "score_single_equal", "baseline_failed")


def _num(v) -> float:
    return math.nan if v is None else float(v)


def history(task, reported: str, rows: list[dict]) -> dict[int, dict]:
    """level -> every reported metric of that level, from the run's rounds rows so far."""
    adv = advantages.level_metrics(task, reported, rows)
    rtl = {r["level"]: r for r in rows if r["method"] == reported and r["ticket"] == -1}
    return {lv: {**{k: _num(rtl[lv].get(k)) for k in REPORTED_METRICS if k in rtl[lv]}, **adv[lv]}
            for lv in sorted(rtl)}


def latest(hist: dict[int, dict]) -> dict:
    """What the report after the last level in `hist` says: that level's metrics, with the lagging
    ones of the latest level that has them."""
    last = hist[max(hist)]
    out = dict(last)
    done = [lv for lv, h in hist.items() if not math.isnan(h.get("advantage_single_equal", math.nan))]
    src = hist[max(done)] if done else {}
    for k in LAGGING:
        out[k] = src.get(k, math.nan)
    out["advantage_level"] = float(max(done)) if done else math.nan
    return out


def read_at(hist: dict[int, dict], metric: str, at: str, mode: str) -> float:
    """final: the latest value; best: the best over levels; a sparsity: the value at the first level
    at or past it (NaN until that level's value exists)."""
    vals = [(h.get("sparsity", math.nan), h.get(metric, math.nan)) for _, h in sorted(hist.items())]
    have = [v for _, v in vals if not math.isnan(v)]
    if at == "final":
        return have[-1] if have else math.nan
    if at == "best":
        return (max(have) if mode == "max" else min(have)) if have else math.nan
    past = [v for sp, v in vals if sp >= float(at) - 1e-9]
    return past[0] if past else math.nan


def report(spec: SweepSpec, hist: dict[int, dict]) -> dict:
    """The metrics of one report: the latest level's, plus each objective read where it asks."""
    out = latest(hist)
    for o in spec.objectives:
        if o.at != "final":
            out[o.key] = read_at(hist, o.metric, o.at, o.mode)
    return out
