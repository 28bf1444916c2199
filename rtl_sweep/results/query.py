"""SQL over the results tables with DuckDB: each table is a view under its documented name.

    rtl-sweep query rtl_runs "select method, level, sparsity, balanced_accuracy from rounds where ticket = -1"

The tables are read with pyarrow (so URIs work) and registered as Arrow views in an in-memory
DuckDB; nothing is written back. Formats: a table for terminals, csv, json (an array of records)
or parquet (needs an output file).
"""

from __future__ import annotations

import io
import json
import math
import posixpath
import re

import pyarrow as pa

from rtl_sweep.errors import ResultsError
from rtl_sweep.results.reader import Results
from rtl_sweep.results.summary import table as text_table

FORMATS = ("table", "csv", "json", "parquet")


def connect(res: Results):
    """An in-memory DuckDB with one view per table present under `res`."""
    import duckdb
    con = duckdb.connect(":memory:")
    for name in res.tables:
        con.register(name, res.table(name))
    return con


def run_sql(res: Results, sql: str) -> pa.Table:
    import duckdb
    con = connect(res)
    try:
        rel = con.sql(sql)
        if rel is None:  # a statement without a result (CREATE, SET, ...)
            return pa.table({})
        return rel.to_arrow_table() if hasattr(rel, "to_arrow_table") else rel.fetch_arrow_table()
    except duckdb.Error as e:
        raise ResultsError(f"query failed: {_first_line(e)}", _hint(res, sql, e)) from None
    finally:
        con.close()


def query(path: str, sql: str, fmt: str = "table", output: str | None = None,
          warnings: list[str] | None = None) -> str:
    """Run `sql` over the tables under `path`; return the text to print (or a note of the file written)."""
    if fmt not in FORMATS:
        raise ResultsError(f"unknown format {fmt!r}", f"use one of {', '.join(FORMATS)}")
    if fmt == "parquet" and not output:
        raise ResultsError("--format parquet needs a file to write", "add --output result.parquet")
    res = Results(path)
    try:
        out = run_sql(res, sql)
    finally:
        if warnings is not None:
            warnings.extend(res.warnings)
    if fmt == "parquet":
        import pyarrow.parquet as pq
        buf = io.BytesIO()
        pq.write_table(out, buf)
        _write(output, buf.getvalue())
        return f"wrote {out.num_rows} rows x {out.num_columns} columns to {output}"
    text = {"table": format_table, "csv": format_csv, "json": format_json}[fmt](out)
    if output:
        _write(output, text.encode())
        return f"wrote {out.num_rows} rows x {out.num_columns} columns to {output}"
    return text


# ---- formats ----------------------------------------------------------------------------------
def _cell(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, float) and v.is_integer() and 1e3 <= abs(v) < 1e15:
        v = int(v)  # an integer column that pandas turned into floats because it has nulls
    if isinstance(v, float):
        return format(v, ".4g") if abs(v) < 1e6 else format(v, ".4e")
    if isinstance(v, int) and not isinstance(v, bool) and abs(v) >= 10_000:
        return f"{v:,}"
    return str(v)


def format_table(t: pa.Table) -> str:
    rows = [[_cell(r[c]) for c in t.column_names] for r in t.to_pylist()]
    return text_table(list(t.column_names), rows) + f"\n({t.num_rows} row{'s' if t.num_rows != 1 else ''})"


def format_csv(t: pa.Table) -> str:
    import pyarrow.csv as pcsv
    buf = io.BytesIO()
    pcsv.write_csv(t, buf)
    return buf.getvalue().decode()


def _jsonable(v):
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return None
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return v


def format_json(t: pa.Table) -> str:
    rows = [{k: _jsonable(v) for k, v in r.items()} for r in t.to_pylist()]
    # One record per line: valid JSON that still reads (and diffs) line by line.
    return "[\n" + ",\n".join(json.dumps(r, default=str) for r in rows) + ("\n]" if rows else "]")


def _write(output: str, data: bytes) -> None:
    from rtl_sweep.store import Store
    if "://" in output:
        parent, name = output.rsplit("/", 1)
        Store(parent).write_bytes(name, data)
    else:
        import os
        parent = os.path.dirname(os.path.abspath(output))
        Store(parent).write_bytes(posixpath.basename(output), data)


# ---- errors -----------------------------------------------------------------------------------
def _first_line(e: Exception) -> str:
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    # DuckDB puts the statement's position on later lines ("LINE 1: ..."); keep both when present.
    return " ".join(lines[:3])


def _hint(res: Results, sql: str, e: Exception) -> str:
    tables = res.tables
    if re.search(r"column|Referenced|Binder", str(e), re.I) and "Table with name" not in str(e):
        used = [t for t in tables if re.search(rf"\b{re.escape(t)}\b", sql, re.I)] or tables
        cols = "; ".join(f"{t}({', '.join(res.table(t).column_names)})" for t in used)
        return f"columns: {cols}"
    return (f"available tables: {', '.join(tables)} (see `rtl-sweep schema`); "
            f"check the SQL against DuckDB's syntax")
