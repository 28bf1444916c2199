"""The bench CLI: --help, and one tiny benchmark invocation writes its ratio rows. No timing asserts.

    python -m pytest tests/test_bench.py -q
"""

from __future__ import annotations

import contextlib
import io

import pyarrow.parquet as pq
import pytest

from rtl_sweep import cli
from rtl_sweep.bench import NAMES, load


def test_bench_help_lists_every_benchmark():
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), pytest.raises(SystemExit) as e:
        cli.main(["bench", "--help"])
    assert e.value.code == 0
    text = buf.getvalue()
    assert "examples:" in text and "rtl-sweep bench" in text
    for name in NAMES:
        assert name in text


def test_every_benchmark_loads_and_a_broken_one_surfaces(monkeypatch):
    assert all(hasattr(load(name), "run") for name in NAMES)
    import rtl_sweep.bench as bench
    monkeypatch.setitem(bench.NAMES, "stopper", ("rtl_sweep.bench.no_such_module", "absent"))
    with pytest.raises(ModuleNotFoundError, match="no_such_module"):
        load("stopper")


def test_tiny_overhead_writes_ratio_rows(tmp_path):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = cli.main(["bench", "overhead", "--overhead-epochs", "1", "--overhead-target", "0.5",
                       "--repeats", "1", "--output", str(tmp_path)])
    assert rc == 0
    parts = list((tmp_path / "tables" / "bench").glob("*.parquet"))
    assert len(parts) == 1
    rows = pq.read_table(parts[0]).to_pylist()
    assert rows and all(r["bench"] == "overhead" and r["ratio"] > 0 for r in rows)
    assert all("cores=" in r["machine"] and "torch=" in r["versions"] and r["settings"] for r in rows)
    assert "machine:" in buf.getvalue() and "ratio" in buf.getvalue()
