"""rtl-sweep results | query | report | schema: read what runs and sweeps wrote.

    rtl-sweep results rtl_runs
    rtl-sweep query rtl_runs "select * from rounds where ticket = -1 and method = 'rtl'"

No Ray here, and no torch except where a run's task draws its own pictures (`report` on an INR
run reads its checkpoints): these commands read Parquet (pyarrow, DuckDB, matplotlib).
"""

from __future__ import annotations

import sys

from rtl_sweep.errors import ResultsError
from rtl_sweep.methods import RTL

EPILOGS = {
    "results": """examples:
  rtl-sweep results rtl_runs/rtl-ff7e8a2b6ac1          # one run: RTL vs baselines per level
  rtl-sweep results rtl_runs --top 5                  # many runs: the 5 best by RTL balanced accuracy
  rtl-sweep results sweeps/collapse --by best_balanced_accuracy
  rtl-sweep results s3://bucket/sweeps/collapse --by params_prunable --ascending
""",
    "query": """tables: runs, rounds, similarity, trials, pareto, bench (those present under PATH);
columns: `rtl-sweep schema`.

examples:
  rtl-sweep query rtl_runs "select method, sparsity, balanced_accuracy from rounds where ticket = -1 order by method, level"
  rtl-sweep query rtl_runs "select run_id, min(sparsity) from rounds where collapse group by run_id"
  rtl-sweep query sweeps/x "select * from trials order by objective desc limit 10" --format csv > best.csv
  rtl-sweep query sweeps/x "select * from similarity" --format parquet --output sim.parquet
""",
    "report": """examples:
  rtl-sweep report rtl_runs/rtl-ff7e8a2b6ac1                     # -> rtl_runs/rtl-ff7e8a2b6ac1/report/index.html
  rtl-sweep report sweeps/collapse --output /tmp/collapse_report
  rtl-sweep report rtl_runs/rtl-ff7e8a2b6ac1 --layers __all__ fc1.weight --levels 1 3
""",
    "schema": """examples:
  rtl-sweep schema                     # the tables and their columns
  rtl-sweep schema --markdown > docs/SCHEMA.md
""",
}
DESCRIPTIONS = {
    "results": "Summary of a run (RTL vs baselines per pruning level), or the best trials of a sweep / "
               "the best of many runs with the parameters that differ.",
    "query": "Run SQL (DuckDB) over the results tables under PATH; each table is a view under its name.",
    "report": "Write PNG plots and one self-contained index.html: the main score (balanced accuracy, or "
              "PSNR) and mask Jaccard vs sparsity, K x K Jaccard heatmaps, an INR run's reconstructions "
              "and error maps, and for a sweep accuracy vs parameters with the Pareto front.",
    "schema": "Print the results tables: every column, its type and meaning.",
}


def configure(p, name: str) -> None:
    p.description = DESCRIPTIONS[name]
    p.epilog = EPILOGS[name]
    if name == "results":
        p.add_argument("path", help="run folder, sweep folder or results root (folder or URI)")
        p.add_argument("--top", type=int, default=10, metavar="N", help="rows to show for many runs / trials")
        p.add_argument("--by", default="balanced_accuracy", metavar="METRIC",
                       help="column to rank by (default balanced_accuracy; any numeric column)")
        p.add_argument("--ascending", action="store_true", help="smallest first (e.g. for params_prunable)")
        p.set_defaults(handler=results_main)
    elif name == "query":
        p.add_argument("path", help="run folder, sweep folder or results root (folder or URI)")
        p.add_argument("sql", help="SQL over the tables runs, rounds, similarity, trials, pareto, bench")
        p.add_argument("--format", "-f", dest="fmt", default="table", choices=["table", "csv", "json", "parquet"],
                       help="output format (parquet needs --output)")
        p.add_argument("--output", "-o", default=None, metavar="FILE", help="write to FILE instead of stdout")
        p.set_defaults(handler=query_main)
    elif name == "report":
        p.add_argument("path", help="run folder, sweep folder or results root (folder or URI)")
        p.add_argument("--output", "-o", default=None, metavar="DIR", help="output folder (default PATH/report)")
        p.add_argument("--layers", nargs="+", default=None, metavar="LAYER",
                       help="heatmap layers (default: __all__ plus the first and last prunable layer)")
        p.add_argument("--levels", nargs="+", type=int, default=None, metavar="LEVEL",
                       help="heatmap pruning levels (default: the first pruned level and the last)")
        p.set_defaults(handler=report_main)
    elif name == "schema":
        p.add_argument("--markdown", action="store_true", help="the Markdown page (docs/SCHEMA.md)")
        p.set_defaults(handler=schema_main)


def _warn(warnings: list[str]) -> None:
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)


# ---- results ----------------------------------------------------------------------------------
RUN_IDENTITY = {"run_id", "name", "trial_id", "sweep", "status", "executor", "started_at", "finished_at",
                "wall_s", "levels", "collapse_sparsity"}


def results_main(args) -> int:
    from rtl_sweep.results.reader import Results
    res = Results(args.path)
    trials = res.table("trials").to_pandas()
    if not trials.empty:
        by = args.by
        if by == "balanced_accuracy" and trials.balanced_accuracy.isna().all():
            by = "objective"  # a sweep that records no accuracy (task=inr): its first objective
        print(rank_trials(trials, by, args.top, args.ascending))
        from rtl_sweep.sweep import study
        imp = study.importances(study.of_folder(args.path), [c[4:] for c in trials.columns if c.startswith("obj_")])
        if imp:
            print("\n" + study.importance_table(imp))
    else:
        print(rank_or_summarize_runs(res, args.by, args.top, args.ascending))
    _warn(res.warnings)
    return 0


def _numeric(df) -> list[str]:
    return [c for c in df.columns if df[c].dtype.kind in "fiub"]


def _sorted(df, by: str, top: int, ascending: bool, what: str):
    if by not in df.columns or by not in _numeric(df):
        raise ResultsError(f"cannot rank {what} by {by!r}: no such numeric column",
                           f"use --by with one of {', '.join(_numeric(df))}")
    return df.sort_values(by, ascending=ascending, na_position="last").head(top)


def _cells(df) -> list[list[str]]:
    from rtl_sweep.text import number
    return [[number(v) for v in row] for row in df.astype(object).itertuples(index=False)]


def rank_trials(trials, by: str, top: int, ascending: bool) -> str:
    from rtl_sweep.text import table
    d = _sorted(trials, by, top, ascending, "trials")
    cols = ["trial_id", "status", "levels", "sparsity", "balanced_accuracy", "params_prunable",
            "collapse_sparsity", by] + [c for c in trials.columns if c.startswith("param_")]
    d = d[list(dict.fromkeys(cols))]
    sweeps = ", ".join(sorted(set(map(str, trials.sweep.dropna())))) or "?"
    head = f"sweep {sweeps}: {len(trials)} trials ({_counts(trials.status)}); best {len(d)} by {by}:"
    return head + "\n" + table(list(d.columns), _cells(d))


def _counts(col) -> str:
    return ", ".join(f"{n} {k}" for k, n in col.value_counts().items())


def rank_or_summarize_runs(res, by: str, top: int, ascending: bool) -> str:
    from rtl_sweep.results.summary import format_run
    from rtl_sweep.text import table
    rounds = res.table("rounds").to_pandas()
    runs = res.table("runs").to_pandas()
    if rounds.empty:
        raise ResultsError(f"no rounds under {res.path!r} yet", "wait for the first level to finish")
    if not runs.empty:  # a resumed run writes one row per invocation: keep the latest
        runs = runs.sort_values("finished_at").drop_duplicates("run_id", keep="last").set_index("run_id")
    ids = list(dict.fromkeys(rounds.run_id))
    label = {r: f"{runs.loc[r, 'name']}-{r}" if r in runs.index else r for r in ids}
    if len(ids) == 1:
        rid = ids[0]
        rows = res.table("rounds").to_pylist()  # None for nulls, as format_run expects
        status = f", {runs.loc[rid, 'status']}" if rid in runs.index else ", running (no runs row yet)"
        return f"run {label[rid]}{status}\n\n" + format_run(rows)
    agg = rounds[(rounds.ticket == -1) & (rounds.method == RTL.name)].sort_values("level")
    last = agg.drop_duplicates("run_id", keep="last").set_index("run_id")
    last["run"] = [label[r] for r in last.index]
    last["status"] = [runs.loc[r, "status"] if r in runs.index else "running" for r in last.index]
    last["collapse_sparsity"] = [runs.loc[r, "collapse_sparsity"] if r in runs.index else None
                                 for r in last.index]
    varying = [c for c in runs.columns if c not in RUN_IDENTITY and runs[c].nunique(dropna=False) > 1]
    for c in varying:
        last[c] = [runs.loc[r, c] if r in runs.index else None for r in last.index]
    d = _sorted(last, by, top, ascending, "runs")
    cols = ["run", "status", "level", "sparsity", "balanced_accuracy", "params_prunable", "mean_jaccard",
            "collapse_sparsity", by] + varying
    d = d[list(dict.fromkeys(cols))]
    head = (f"{len(ids)} runs under {res.path}; best {len(d)} by RTL {by} at the last level "
            f"(details: rtl-sweep results <run folder>):")
    return head + "\n" + table(list(d.columns), _cells(d))


# ---- query, report, schema --------------------------------------------------------------------
def query_main(args) -> int:
    from rtl_sweep.results.query import query
    warnings: list[str] = []
    try:
        text = query(args.path, args.sql, fmt=args.fmt, output=args.output, warnings=warnings)
    finally:
        _warn(warnings)
    print(text, file=sys.stderr if args.output else sys.stdout)
    return 0


def report_main(args) -> int:
    from rtl_sweep.results.report import report
    out = args.output or args.path.rstrip("/") + "/report"
    done = report(args.path, out, layers=args.layers, levels=args.levels)
    _warn(done["warnings"])
    for f in done["files"]:
        print(f)
    print(f"open {done['html']}")
    return 0


def schema_main(args) -> int:
    from rtl_sweep import schema
    from rtl_sweep.text import table
    if args.markdown:
        print(schema.markdown(), end="")
        return 0
    for name, spec in schema.TABLES.items():
        print(f"{name}: {spec['help']}")
        print(table(None, [[n, str(t), h] for n, t, h in spec["columns"]], align="lll", indent="  "))
        print()
    print("runs and trials also carry every config value as a flattened column (prune_fraction, "
          "partition_k, ...); trials carries sampled values as param_<key>. --markdown for docs/SCHEMA.md.")
    return 0
