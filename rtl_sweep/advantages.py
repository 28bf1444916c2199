"""How far RTL is ahead of its baselines, level by level, on the task's main score.

    python -c "import rtl_sweep.advantages as a; help(a.level_metrics)"

Three numbers per level, all computed from the aggregate rows (ticket -1) of `rounds`:
- advantage_single_equal: RTL minus IMP single at equal total parameters (imp_single_equal);
- advantage_multiple: RTL minus IMP multiple at equal sparsity;
- params_ratio_multiple: RTL's kept prunable weights (union of masks) over IMP multiple's (sum).
"RTL minus" is signed so that a positive advantage means RTL is better: for a task whose main score
is lower-is-better the difference is baseline minus RTL. RTL is the method a run reports
(`methods.reported`: after joint retraining when there is one).

Timing: IMP multiple's level L is finished in the same wave as RTL's, so advantage_multiple and
params_ratio_multiple go on RTL's aggregate row of level L. The equal-parameter baseline of level L
runs one wave later (methods.IMP_SINGLE_EQUAL.lag), when RTL's row of level L is already written and
never rewritten: advantage_single_equal of level L goes on the imp_single_equal aggregate row of
level L (its own part file, rounds/L00x-imp_single_equal.parquet), beside that baseline's own score.
"""

from __future__ import annotations

import math

from rtl_sweep import methods

ADVANTAGES = ("advantage_single_equal", "advantage_multiple", "params_ratio_multiple")


def _score(row: dict | None, main: str) -> float:
    v = None if row is None else row.get(main)
    return math.nan if v is None else float(v)


def signed(higher_is_better: bool, rtl: float, base: float) -> float:
    """RTL's lead over a baseline: positive when RTL is better."""
    return (rtl - base) if higher_is_better else (base - rtl)


def fill(task, reported: str, rows: list[dict], seen: dict[tuple[str, int], dict]) -> None:
    """Set the advantage columns on one wave's rows, in place; `seen` holds every aggregate row of
    the run so far by (method, level), this wave's included on return."""
    main, up = task.main_score, task.higher_is_better
    agg = [r for r in rows if r["ticket"] == -1]
    for r in agg:
        seen[(r["method"], r["level"])] = r
    for r in agg:
        level = r["level"]
        if r["method"] == reported:
            mult = seen.get((methods.IMP_MULTIPLE.name, level))
            if mult is not None:
                r["advantage_multiple"] = signed(up, _score(r, main), _score(mult, main))
                r["params_ratio_multiple"] = r["params_prunable"] / max(1, mult["params_prunable"])
        elif r["method"] == methods.IMP_SINGLE_EQUAL.name:
            rtl = seen.get((reported, level))
            if rtl is not None:
                r["advantage_single_equal"] = signed(up, _score(rtl, main), _score(r, main))


def level_metrics(task, reported: str, rows: list[dict]) -> dict[int, dict]:
    """Per level, what a sweep reports about the advantages (from the aggregate rows of `rounds`):
    the three advantages, the absolute scores beside them (`score_rtl`, `score_single_equal`,
    `score_multiple`, `score_dense` = IMP single at level 0) and `baseline_failed` (1.0 when the
    equal-parameter model, or IMP single without it, is below the dense model by more than the
    task's `baseline_drop`). A value whose rows do not exist (yet) is NaN."""
    main, up = task.main_score, task.higher_is_better
    by = {(r["method"], r["level"]): r for r in rows if r["ticket"] == -1}
    dense = _score(by.get((methods.IMP_SINGLE.name, 0)), main)
    out = {}
    for level in sorted({lv for m, lv in by if m == reported}):
        rtl = by[(reported, level)]
        eq = by.get((methods.IMP_SINGLE_EQUAL.name, level))
        mult = by.get((methods.IMP_MULTIPLE.name, level))
        single = eq or by.get((methods.IMP_SINGLE.name, level))
        d = {"score_rtl": _score(rtl, main), "score_single_equal": _score(eq, main),
             "score_multiple": _score(mult, main), "score_dense": dense}
        d["advantage_single_equal"] = signed(up, d["score_rtl"], d["score_single_equal"])
        d["advantage_multiple"] = signed(up, d["score_rtl"], d["score_multiple"])
        d["params_ratio_multiple"] = (rtl["params_prunable"] / max(1, mult["params_prunable"])
                                      if mult is not None else math.nan)
        drop = signed(up, dense, _score(single, main))
        d["baseline_failed"] = math.nan if math.isnan(drop) else float(drop > task.baseline_drop)
        out[level] = d
    return out
