"""The notebook API: `from rtl_sweep import ...` is cheap, and the manual's "From Python" example runs.

    python -m pytest tests/test_api.py -q
"""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
import sys
from pathlib import Path

import rtl_sweep

ROOT = Path(__file__).resolve().parents[1]


def test_import_is_cheap_and_names_load_on_first_use():
    code = ("import sys, rtl_sweep; heavy = {'torch', 'ray', 'pandas', 'duckdb'} & set(sys.modules); "
            "assert not heavy, heavy; from rtl_sweep import RunConfig, Results, load_space; "
            "assert not {'torch', 'ray'} & set(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
    assert set(rtl_sweep.__all__) == {"RunConfig", "run", "Run", "load_space", "Results"}
    assert set(rtl_sweep.__all__) <= set(dir(rtl_sweep))
    from rtl_sweep.engine import Run, run
    assert rtl_sweep.run is run and rtl_sweep.Run is Run


def test_load_space_from_the_package():
    spec = rtl_sweep.load_space(ROOT / "search_spaces" / "default.yaml")
    assert spec.name == "default" and "prune.fraction" in spec.space


def _readme_example() -> str:
    page = (ROOT / "docs" / "python.md").read_text()
    (block,) = re.findall(r"<!-- from-python[^>]*-->\n```python\n(.*?)```", page, re.S)
    return block


def test_readme_from_python_example_runs_on_real_data(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(_readme_example(), "docs/python.md (From Python)", "exec"), {})
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["method", "imp_single", "rtl", "rtl_tickets"]
    assert [ln.split()[0] for ln in lines[2:]] == ["0", "1", "2", "3"]     # levels to 87.5% sparsity
    assert all(0.0 <= float(v) <= 1.0 for ln in lines[2:] for v in ln.split()[1:])
    (folder,) = (tmp_path / "rtl_runs").iterdir()
    res = rtl_sweep.Results(str(folder))
    assert set(res.tables) == {"runs", "rounds", "similarity"}
    assert res.table("runs").column("status").to_pylist() == ["completed"]
    assert set(res.table("rounds").column("ticket").to_pylist()) == {-1, *range(10)}  # digits: 10 tickets
