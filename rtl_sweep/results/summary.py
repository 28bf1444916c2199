"""The run summary: RTL vs its baselines per sparsity level, at equal sparsity and at equal parameters.

    python -c "from rtl_sweep.results.summary import format_run; print(format_run(rows))"

Input is the `rounds` table as a list of dicts (aggregate rows, ticket = -1).
"""

from __future__ import annotations

from rtl_sweep.methods import IMP_SINGLE_EQUAL, METHODS, ORDER, RTL, RTL_TICKETS
from rtl_sweep.text import number, table

LABEL = {m.name: m.label for m in METHODS.values()}
SYNTHETIC_WARNING = ("SYNTHETIC DATA (data.name=synthetic): a timing stand-in; every score below is "
                     "meaningless.")
SIGNAL_METHODS = tuple(m.name for m in METHODS.values() if m.signal)


def format_run(rounds: list[dict]) -> str:
    agg = [r for r in rounds if r["ticket"] == -1]
    by = {(r["method"], r["level"]): r for r in agg}
    levels = sorted({r["level"] for r in agg})
    multiclass = any(r.get("accuracy") is not None for r in agg)
    header = ["level", "sparsity", "method", "bal.acc", "precision", "recall"] + \
             (["accuracy"] if multiclass else []) + ["params", "count", "mean J", "chance", "collapse"]
    rows = []
    for lv in levels:
        first = True
        for m in ORDER:
            if m == IMP_SINGLE_EQUAL.name:  # it has its own table: at equal total parameters
                continue
            r = by.get((m, lv))
            if not r:
                continue
            rows.append([str(lv) if first else "", number(r["sparsity"], ".3f") if first else "", LABEL[m],
                         number(r["balanced_accuracy"], ".3f"), number(r["precision"], ".3f"),
                         number(r["recall"], ".3f")] + ([number(r.get("accuracy"), ".3f")] if multiclass else []) +
                        [number(r["params_prunable"], ","), r["params_count"], number(r.get("mean_jaccard"), ".3f"),
                         number(r.get("jaccard_chance"), ".3f"),
                         ("YES" if r.get("collapse") else "no") if r.get("collapse") is not None else ""])
            first = False
    out = ["At equal sparsity (level 0 is the dense model):", table(header, rows)]
    if any(r.get("synthetic") for r in agg):
        out = [SYNTHETIC_WARNING, ""] + out
    eq_rows = []
    for lv in levels:
        rtl = by.get((RTL.name, lv)) or by.get((RTL_TICKETS.name, lv))
        eq = by.get((IMP_SINGLE_EQUAL.name, lv))
        if not (rtl and eq):
            continue
        diff = rtl["balanced_accuracy"] - eq["balanced_accuracy"]
        eq_rows.append([str(lv), number(rtl["sparsity"], ".3f"), number(rtl["union_sparsity"], ".3f"),
                        number(rtl["params_prunable"], ","), number(rtl["balanced_accuracy"], ".3f"),
                        number(eq["params_prunable"], ","), number(eq["balanced_accuracy"], ".3f"), number(diff, "+.3f")])
    if eq_rows:
        out += ["", "At equal total parameters (IMP single pruned to the size of RTL's mask union):",
                table(["level", "ticket sparsity", "union sparsity", "RTL params", "RTL bal.acc",
                       "IMP single params", "IMP single bal.acc", "RTL - single"], eq_rows)]
    collapsed = [r for r in agg if r["method"] in SIGNAL_METHODS and r.get("collapse")]
    if collapsed:
        first = min(collapsed, key=lambda r: r["level"])
        cause = {"jaccard": "abrupt change of the similarity signal",
                 "dead_ticket": "a ticket gives one answer to every input"}
        why = " and ".join(cause.get(c, c) for c in (first.get("collapse_cause") or "").split("+") if c)
        out += ["", f"Collapse detector fired first at level {first['level']} "
                    f"(sparsity {first['sparsity']:.3f}, signal {first['signal']:.3f}"
                    + (f"; {why}" if why else "") + ")."]
    else:
        out += ["", "Collapse detector: no abrupt change of the similarity signal, no ticket died."]
    return "\n".join(out)


def format_seeds(runs: list[list[dict]], main: str) -> str:
    """One config run with several seeds: per level and method, the mean main score and its t-based
    95% interval over the seeds (`runs`: each run's rounds rows)."""
    from rtl_sweep.sweep.confirm import interval
    vals: dict[tuple, list[float]] = {}
    for rows in runs:
        for r in rows:
            if r["ticket"] == -1 and r.get(main) is not None:
                vals.setdefault((r["level"], ORDER.index(r["method"]), r["method"]), []).append(r[main])
    body = []
    for (lv, _, m), v in sorted(vals.items()):
        mean, lo, hi = interval(v)
        body.append([str(lv), LABEL[m], number(mean, ".4f"), f"[{number(lo, '.4f')}, {number(hi, '.4f')}]",
                     str(len(v))])
    return (f"{main} over {len(runs)} seeds (mean, t-based 95% interval):\n"
            + table(["level", "method", "mean", "95% interval", "seeds"], body))
