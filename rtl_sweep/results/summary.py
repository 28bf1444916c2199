"""The run summary: RTL vs its baselines per sparsity level, at equal sparsity and at equal parameters.

    python -c "from rtl_sweep.results.summary import format_run; print(format_run(rows))"

Input is the `rounds` table as a list of dicts (aggregate rows, ticket = -1). The score columns
shown are those the run filled (a task fills its own and leaves the others null); the main score,
by default the first of them, is compared at equal total parameters.
"""

from __future__ import annotations

from rtl_sweep.methods import IMP_SINGLE_EQUAL, METHODS, ORDER, RTL, RTL_TICKETS
from rtl_sweep.results.routing import format_routes
from rtl_sweep.text import number, table

LABEL = {m.name: m.label for m in METHODS.values()}
SYNTHETIC_WARNING = ("SYNTHETIC DATA (data.name=synthetic): a timing stand-in; every score below is "
                     "meaningless.")
SIGNAL_METHODS = tuple(m.name for m in METHODS.values() if m.signal)

# score column -> (header, format); in the order the tables show them
SCORES = {"balanced_accuracy": ("bal.acc", ".3f"), "precision": ("precision", ".3f"),
          "recall": ("recall", ".3f"), "accuracy": ("accuracy", ".3f"),
          "psnr": ("PSNR dB", ".2f"), "ssim": ("SSIM", ".3f"),
          "si_snri": ("SI-SNRi dB", ".2f"), "si_snr": ("SI-SNR dB", ".2f"), "pesq": ("PESQ", ".2f"),
          "stoi": ("STOI", ".3f")}


def filled_scores(rows: list[dict]) -> list[str]:
    """The score columns holding a value (not null, not NaN) in any of `rows`, in SCORES order."""
    return [s for s in SCORES if any(r.get(s) is not None and r.get(s) == r.get(s) for r in rows)]


def format_run(rounds: list[dict], main_score: str | None = None, higher_is_better: bool = True) -> str:
    agg = [r for r in rounds if r["ticket"] == -1]
    by = {(r["method"], r["level"]): r for r in agg}
    levels = sorted({r["level"] for r in agg})
    scores = filled_scores(agg) or ["balanced_accuracy"]
    main = main_score or scores[0]
    header = ["level", "sparsity", "method"] + [SCORES[s][0] for s in scores] + \
             ["params", "count", "mean J", "chance", "collapse"]
    rows = []
    for lv in levels:
        first = True
        for m in ORDER:
            if m == IMP_SINGLE_EQUAL.name:  # it has its own table: at equal total parameters
                continue
            r = by.get((m, lv))
            if not r:
                continue
            rows.append([str(lv) if first else "", number(r["sparsity"], ".3f") if first else "", LABEL[m]] +
                        [number(r.get(s), SCORES[s][1]) for s in scores] +
                        [number(r["params_prunable"], ","), r["params_count"], number(r.get("mean_jaccard"), ".3f"),
                         number(r.get("jaccard_chance"), ".3f"),
                         ("YES" if r.get("collapse") else "no") if r.get("collapse") is not None else ""])
            first = False
    rules = sorted({r.get("exposure") or "passes" for r in agg})  # null: written before the rule existed
    out = [f"At equal sparsity (level 0 is the dense model; exposure {', '.join(rules)}):",
           table(header, rows)]
    if any(r.get("synthetic") for r in agg):
        out = [SYNTHETIC_WARNING, ""] + out
    eq_rows = []
    label, spec = SCORES.get(main, (main, ".3f"))
    for lv in levels:
        rtl = by.get((RTL.name, lv)) or by.get((RTL_TICKETS.name, lv))
        eq = by.get((IMP_SINGLE_EQUAL.name, lv))
        if not (rtl and eq):
            continue
        # Signed so that a positive difference always means RTL is ahead, whatever the direction.
        diff = (rtl[main] - eq[main]) * (1 if higher_is_better else -1)
        eq_rows.append([str(lv), number(rtl["sparsity"], ".3f"), number(rtl["union_sparsity"], ".3f"),
                        number(rtl["params_prunable"], ","), number(rtl[main], spec),
                        number(eq["params_prunable"], ","), number(eq[main], spec), number(diff, f"+{spec}")])
    if eq_rows:
        out += ["", "At equal total parameters (IMP single pruned to the size of RTL's mask union):",
                table(["level", "ticket sparsity", "union sparsity", "RTL params", f"RTL {label}",
                       "IMP single params", f"IMP single {label}",
                       "RTL - single" if higher_is_better else "single - RTL"], eq_rows)]
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
    out += format_routes(rounds)
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
