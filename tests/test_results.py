"""The results layer: schema, readers, query, report and the four commands, on real tiny runs.

    pytest tests/test_results.py -q
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rtl_sweep.cli import COMMANDS, main
from rtl_sweep import schema as S
from rtl_sweep.errors import ResultsError
from rtl_sweep.results.reader import find_tables, read_table
from rtl_sweep.store import Store

ROOT = Path(__file__).resolve().parents[1]
# The bundled digits set with a 4-wide CNN: a whole run with baselines in a few seconds.
TINY = ["data.name=digits", "data.max_per_class=30", "model.width=4", "prune.epochs=1", "joint.epochs=1",
        "prune.target_sparsity=0.875", "prune.batch_size=32"]
PNG = b"\x89PNG\r\n\x1a\n"


def _run(root: Path, extra: list[str]) -> Path:
    argv = ["run", "-o", str(root), "-q"]
    for o in TINY + extra:
        argv += ["--set", o]
    assert main(argv) == 0
    (folder,) = [p for p in root.iterdir() if p.is_dir()]
    return folder


def _as_other_run(run: Path, dest: Path, run_id: str) -> Path:
    """A copy of `run` under another run id: a second run without a second training (the file stays < 60 s)."""
    folder = dest / f"{run.name.rsplit('-', 1)[0]}-{run_id}"
    for part in run.glob("tables/*/*.parquet"):
        t = pq.ParquetFile(part).read()  # not pq.read_table: `runs` repeats the column `name`
        t = t.set_column(t.column_names.index("run_id"), "run_id", pa.array([run_id] * t.num_rows))
        Store(folder).write_table(str(part.relative_to(run)), t)
    return folder


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    """One real tiny run (digits, class partition, K=10) and a copy of it under another run id."""
    base = tmp_path_factory.mktemp("runs")
    real = _run(base / "a", [])
    return {"class": real, "kmeans": _as_other_run(real, base / "b", "0123456789ab")}


@pytest.fixture(scope="module")
def sweep(runs, tmp_path_factory) -> Path:
    """A sweep-shaped folder: the two runs as trials, a trials and a pareto table; trial 1 collapsed."""
    folder = tmp_path_factory.mktemp("sweep") / "sw"
    store = Store(folder)
    store.write_text("sweep.yaml", "name: sw\n")
    rows = []
    for n, (kind, run) in enumerate(runs.items()):
        shutil.copytree(run, folder / "trials" / run.name, ignore=shutil.ignore_patterns("ckpt"))
        rounds = read_table(str(run), "rounds").to_pylist()
        rtl = [r for r in rounds if r["method"] == "rtl" and r["ticket"] == -1]
        last = max(rtl, key=lambda r: r["level"])
        collapse = None
        if n == 1:  # mark the collapse detector as fired from level 2 on, as a collapsing trial would
            collapse = next(r["sparsity"] for r in rtl if r["level"] == 2)
            rel = f"trials/{run.name}/tables/rounds/L002.parquet"
            t = store.read_table(rel).to_pylist()
            for r in t:
                r["collapse"] = r["method"] in ("rtl", "rtl_tickets") or r["collapse"]
            store.write_table(rel, S.to_table("rounds", t))
        rows.append({"sweep": "sw", "trial_id": f"t{n}", "trial_number": n, "run_id": last["run_id"],
                     "status": "stopped_collapse" if collapse else "completed", "levels": last["level"],
                     "sparsity": last["sparsity"], "balanced_accuracy": last["balanced_accuracy"],
                     "best_balanced_accuracy": max(r["balanced_accuracy"] for r in rtl),
                     "params_prunable": last["params_prunable"], "mean_jaccard": last["mean_jaccard"],
                     "collapse_sparsity": collapse, "objective": last["balanced_accuracy"], "wall_s": 1.0,
                     "k": 10 if kind == "class" else 3,
                     "param_partition_k": 10 if kind == "class" else 3, "param_partition_method": kind})
    extra = {"param_partition_k": pa.int64(), "param_partition_method": pa.string()}
    store.write_table("tables/trials/part.parquet", S.to_table("trials", rows, extra))
    best = max(rows, key=lambda r: r["objective"])
    store.write_table("tables/pareto/part.parquet", S.to_table("pareto", [
        {"sweep": "sw", "trial_id": best["trial_id"], "rank": 1,
         "objectives": json.dumps({"balanced_accuracy": best["objective"]})}]))
    return folder


def cli(capsys, *argv) -> tuple[int, str, str]:
    rc = main([str(a) for a in argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


# ---- the schema -------------------------------------------------------------------------------
def test_schema_doc_is_generated_from_the_schema():
    assert (ROOT / "docs" / "SCHEMA.md").read_text() == S.markdown(), \
        "regenerate: python -m rtl_sweep.schema > docs/SCHEMA.md"


SAMPLE = {pa.string(): "x", pa.int64(): 7, pa.float64(): 0.25, pa.bool_(): True,
          pa.timestamp("ms", tz="UTC"): dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)}


@pytest.mark.parametrize("table", list(S.TABLES))
def test_schema_round_trip(tmp_path, table):
    cols = S.TABLES[table]["columns"]
    rows = [{n: SAMPLE[t] for n, t, _ in cols}, {cols[0][0]: "only-the-first"}]  # the rest null
    written = S.to_table(table, rows, {"prune_fraction": pa.float64()})
    Store(tmp_path).write_table(f"tables/{table}/part.parquet", written)
    back = read_table(str(tmp_path), table)
    assert back.equals(written)
    assert back.column_names == written.column_names


def test_schema_command(capsys):
    rc, out, _ = cli(capsys, "schema", "--markdown")
    assert rc == 0 and out == S.markdown()
    rc, out, _ = cli(capsys, "schema")
    assert rc == 0 and all(f"{t}:" in out for t in S.TABLES)


# ---- the format version -----------------------------------------------------------------------
def _rounds_part(folder: Path, version: int | None, name: str = "L000") -> pa.Table:
    """A real-schema rounds part carrying format `version` (None: no version, as files before versions)."""
    t = S.to_table("rounds", [{"run_id": "r", "method": "rtl", "level": 0, "ticket": -1, "sparsity": 0.0}])
    meta = None if version is None else {S.VERSION_KEY: str(version)}
    Store(folder).write_table(f"tables/rounds/{name}.parquet", t.replace_schema_metadata(meta))
    return t


def test_every_table_and_run_folder_carries_the_format_version(tmp_path):
    t = _rounds_part(tmp_path, S.FORMAT_VERSION)
    assert S.table_version(S.schema("bench")) == S.table_version(t.schema) == S.FORMAT_VERSION == 1
    assert S.table_version(pq.read_schema(tmp_path / "tables" / "rounds" / "L000.parquet")) == 1
    store = Store(tmp_path / "run")
    assert S.check_run_folder(store) == 0                     # a folder from before versions
    S.mark_run_folder(store)
    assert json.loads((tmp_path / "run" / S.FORMAT_FILE).read_text()) == {S.VERSION_KEY: 1}
    assert S.check_run_folder(store) == 1


def test_a_table_without_a_version_is_read(tmp_path):
    written = _rounds_part(tmp_path, None)
    assert S.table_version(pq.read_schema(tmp_path / "tables" / "rounds" / "L000.parquet")) == 0
    assert read_table(str(tmp_path), "rounds").equals(written)


@pytest.mark.parametrize("where", ["table", "run folder"])
def test_a_newer_format_is_refused_in_one_line(tmp_path, capsys, where):
    _rounds_part(tmp_path, S.FORMAT_VERSION)
    if where == "table":
        _rounds_part(tmp_path, S.FORMAT_VERSION + 1, name="L001")
        named = "L001.parquet"
    else:
        Store(tmp_path).write_text(S.FORMAT_FILE, json.dumps({S.VERSION_KEY: S.FORMAT_VERSION + 1}))
        named = S.FORMAT_FILE
        with pytest.raises(ResultsError, match="format version 2"):
            S.mark_run_folder(Store(tmp_path))                 # nor does a run resume in it
    for argv in (["results", tmp_path], ["query", tmp_path, "select count(*) from rounds"]):
        rc, out, err = cli(capsys, *argv)
        assert rc == 2 and out == "" and err.count("\n") == 1 and "Traceback" not in err
        assert f"{named} has rtl_sweep format version 2" in err and "fix: upgrade rtl_sweep" in err, err


# ---- other readers need none of our code ------------------------------------------------------
def test_duckdb_and_pandas_read_the_files_directly(runs, sweep):
    import duckdb
    import pandas as pd
    root = runs["class"].parent
    n = duckdb.sql(f"select count(*) from read_parquet('{root}/**/tables/rounds/*.parquet')").fetchall()[0][0]
    assert n == read_table(str(root), "rounds").num_rows > 0
    df = pd.read_parquet(runs["class"] / "tables" / "rounds")
    assert len(df) == n and set(df.method) >= {"rtl", "rtl_tickets", "imp_single", "imp_multiple"}
    sim = pd.read_parquet(runs["class"] / "tables" / "similarity")
    assert ((sim.jaccard >= 0) & (sim.jaccard <= 1)).all()
    k = duckdb.sql(f"select count(*) from read_parquet('{sweep}/**/tables/rounds/*.parquet', "
                   f"union_by_name=true)").fetchall()[0][0]
    assert k == read_table(str(sweep), "rounds").num_rows
    assert len(pd.read_parquet(sweep / "tables" / "trials")) == 2


def test_find_tables(runs, sweep):
    found = find_tables(str(runs["class"]))
    assert set(found) == {"runs", "rounds", "similarity"}
    assert all(Path(f).exists() and "/tables/rounds/" in f for f in found["rounds"])
    assert set(find_tables(str(sweep))) == {"runs", "rounds", "similarity", "trials", "pareto"}
    assert set(find_tables("file://" + str(sweep))) == set(find_tables(str(sweep)))  # URIs too


# ---- results ----------------------------------------------------------------------------------
def test_results_of_a_run(runs, capsys):
    rc, out, err = cli(capsys, "results", runs["class"])
    assert rc == 0 and err == ""
    assert "RTL (joint)" in out and "IMP single" in out and "At equal total parameters" in out


def test_results_of_many_runs_and_of_a_sweep(runs, sweep, capsys):
    both = runs["class"].parent.parent
    rc, out, _ = cli(capsys, "results", both, "--top", "1")
    assert rc == 0 and "2 runs under" in out and "best 1 by" in out
    rc, out, _ = cli(capsys, "results", sweep)
    assert rc == 0 and "2 trials" in out and "param_partition_k" in out and "t0" in out and "t1" in out
    rc, out, _ = cli(capsys, "results", sweep, "--by", "params_prunable", "--ascending", "--top", "1")
    assert rc == 0 and len([ln for ln in out.splitlines() if ln.startswith(("t0 ", "t1 "))]) == 1
    rc, _, err = cli(capsys, "results", sweep, "--by", "nope")
    assert rc == 2 and "nope" in err and "balanced_accuracy" in err


# ---- query ------------------------------------------------------------------------------------
SQL = "select method, level, sparsity, balanced_accuracy from rounds where ticket = -1 order by method, level"


@pytest.mark.parametrize("where", ["class", "sweep"])
def test_query_in_every_format(runs, sweep, where, tmp_path, capsys):
    path = runs["class"] if where == "class" else sweep
    expected = read_table(str(path), "rounds").to_pandas().query("ticket == -1")
    rc, out, _ = cli(capsys, "query", path, SQL)
    assert rc == 0 and out.splitlines()[0].split() == ["method", "level", "sparsity", "balanced_accuracy"]
    assert f"({len(expected)} rows)" in out
    rc, out, _ = cli(capsys, "query", path, SQL, "--format", "csv")
    assert rc == 0 and len(list(csv.DictReader(io.StringIO(out)))) == len(expected)
    rc, out, _ = cli(capsys, "query", path, SQL, "--format", "json")
    recs = json.loads(out)
    assert rc == 0 and len(recs) == len(expected) and set(recs[0]) == {"method", "level", "sparsity",
                                                                       "balanced_accuracy"}
    rc, _, err = cli(capsys, "query", path, SQL, "--format", "parquet")
    assert rc == 2 and "--output" in err
    target = tmp_path / "q.parquet"
    rc, _, err = cli(capsys, "query", path, SQL, "--format", "parquet", "--output", target)
    assert rc == 0 and pq.read_table(target).num_rows == len(expected) and "wrote" in err


def test_query_over_a_uri(sweep, capsys):
    rc, out, _ = cli(capsys, "query", f"file://{sweep}", "select count(*) as n from trials", "-f", "json")
    assert rc == 0 and json.loads(out) == [{"n": 2}]


# The three examples of docs/results.md, verbatim (test_results_page_holds_the_queries checks it).
BEST_PER_K = ("select k, max(balanced_accuracy) as best, "
              "arg_max(trial_id, balanced_accuracy) as trial from trials group by k order by k")
ACC_VS_SPARSITY = ("select method, round(sparsity, 3) as sparsity, avg(balanced_accuracy) as bal_acc "
                   "from rounds where ticket = -1 group by all order by method, sparsity")
COLLAPSE_BEGAN = ("select run_id, min(sparsity) as collapse_sparsity, min(level) as level "
                  "from rounds where collapse and method = 'rtl' group by run_id")


def test_results_page_holds_the_queries():
    page = (ROOT / "docs" / "results.md").read_text()
    assert all(q in page for q in (BEST_PER_K, ACC_VS_SPARSITY, COLLAPSE_BEGAN))


def test_readme_queries(runs, sweep, capsys):
    rc, out, err = cli(capsys, "query", sweep, BEST_PER_K, "-f", "json")
    assert rc == 0, err
    best = json.loads(out)
    assert rc == 0 and [r["k"] for r in best] == [3, 10] and all(0 <= r["best"] <= 1 for r in best)
    rc, out, _ = cli(capsys, "query", runs["class"], ACC_VS_SPARSITY, "-f", "json")
    rows = json.loads(out)
    assert rc == 0 and {r["method"] for r in rows} == {"rtl", "rtl_tickets", "imp_single", "imp_multiple",
                                                      "imp_single_equal"}
    rtl = [r["sparsity"] for r in rows if r["method"] == "rtl"]
    assert rtl == sorted(rtl) and rtl[0] == 0 and rtl[-1] > 0.8
    rc, out, _ = cli(capsys, "query", sweep, COLLAPSE_BEGAN, "-f", "json")
    got = {r["run_id"]: (r["level"], r["collapse_sparsity"]) for r in json.loads(out)}
    # the same answer computed without SQL, from the same files
    rounds = read_table(str(sweep), "rounds").to_pandas()
    fired = rounds[rounds.collapse.fillna(False).astype(bool) & (rounds.method == "rtl")]
    want = {rid: (int(g.level.min()), float(g.sparsity.min())) for rid, g in fired.groupby("run_id")}
    assert rc == 0 and set(got) == set(want) and "0123456789ab" in got
    assert all(got[k][0] == want[k][0] and got[k][1] == pytest.approx(want[k][1]) for k in want)
    assert got["0123456789ab"][0] <= 2         # the trial marked as collapsed from level 2 on


@pytest.mark.parametrize("sql, words", [
    ("selec * from rounds", ["syntax error", "available tables: runs, rounds, similarity"]),
    ("select * from trials", ["trials", "available tables: runs, rounds, similarity"]),
    ("select nope from rounds", ["nope", "rounds(run_id, method", "balanced_accuracy"]),
])
def test_query_errors_are_one_line(runs, capsys, sql, words):
    rc, out, err = cli(capsys, "query", runs["class"], sql)
    assert rc == 2 and out == "" and err.count("\n") == 1 and "Traceback" not in err
    assert all(w in err for w in words), err


def test_no_results_at_path(tmp_path, capsys):
    for path in (tmp_path, tmp_path / "missing"):
        for argv in (["results", path], ["query", path, "select 1"], ["report", path]):
            rc, _, err = cli(capsys, *argv)
            assert rc == 2 and str(path) in err and "fix:" in err


def test_truncated_part_is_skipped_with_a_warning(runs, tmp_path, capsys):
    run = shutil.copytree(runs["class"], tmp_path / runs["class"].name, ignore=shutil.ignore_patterns("ckpt"))
    parts = sorted((run / "tables" / "rounds").glob("*.parquet"))
    whole = read_table(str(run), "rounds").num_rows
    lost = pq.read_table(parts[1]).num_rows
    parts[1].write_bytes(parts[1].read_bytes()[:100] + b"garbage")
    rc, out, err = cli(capsys, "query", run, "select count(*) as n from rounds", "-f", "json")
    assert rc == 0 and json.loads(out) == [{"n": whole - lost}]
    assert parts[1].name in err and "warning" in err
    rc, out, err = cli(capsys, "results", run)
    assert rc == 0 and "RTL (joint)" in out and parts[1].name in err
    (run / "tables" / "rounds" / ".L009.parquet.1234.tmp").write_bytes(b"in flight")  # dot-files: skipped
    assert read_table(str(run), "rounds").num_rows == whole - lost


# ---- report -----------------------------------------------------------------------------------
def _check_report(folder: Path, names: list[str]) -> None:
    page = (folder / "index.html").read_text()
    for name in names:
        data = (folder / name).read_bytes()
        assert data.startswith(PNG) and len(data) > 20_000, name
        assert base64.b64encode(data).decode() in page, f"{name} is not embedded"
    assert "<table>" in page and 'src="http' not in page  # self-contained


def test_report_of_a_run(runs, tmp_path, capsys):
    rid = runs["class"].name.rsplit("-", 1)[1]
    rc, out, _ = cli(capsys, "report", runs["class"], "--output", tmp_path)
    assert rc == 0 and "index.html" in out
    _check_report(tmp_path, [f"accuracy_{rid}.png", f"jaccard_{rid}.png", f"heatmap_{rid}.png"])
    rc, _, _ = cli(capsys, "report", runs["class"], "-o", tmp_path / "b", "--layers", "__all__",
                   "--levels", "0", "3")
    assert rc == 0 and (tmp_path / "b" / f"heatmap_{rid}.png").exists()
    rc, _, err = cli(capsys, "report", runs["class"], "-o", tmp_path / "c", "--layers", "nope")
    assert rc == 2 and "nope" in err and "__all__" in err


def test_report_of_a_sweep(sweep, runs, tmp_path, capsys):
    rc, out, _ = cli(capsys, "report", sweep, "--output", tmp_path)
    assert rc == 0
    ids = [r.name.rsplit("-", 1)[1] for r in runs.values()]
    _check_report(tmp_path, ["trials.png"] + [f"{kind}_{i}.png" for i in ids
                                              for kind in ("accuracy", "jaccard", "heatmap")])
    assert "Best trials" in (tmp_path / "index.html").read_text()


@pytest.mark.parametrize("name", ["results", "query", "report", "schema"])
def test_help_has_a_description_and_examples(name, capsys):
    with pytest.raises(SystemExit) as e:
        main([name, "--help"])
    out = capsys.readouterr().out
    assert e.value.code == 0 and "examples:" in out and f"rtl-sweep {name}" in out.split("examples:")[1]


@pytest.mark.parametrize("argv", [["--help"]] + [[name, "--help"] for name in COMMANDS])
def test_every_help_prints(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 0 and "usage: rtl-sweep" in capsys.readouterr().out
