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


def test_bench_gpu_without_cuda_says_so_in_one_line_and_exits_0(tmp_path):
    import subprocess
    import sys
    import torch
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the benchmark would run")
    out = subprocess.run([sys.executable, "-m", "rtl_sweep.cli", "bench", "gpu", "-o", str(tmp_path)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "bench gpu: no CUDA device on this machine; nothing measured." in out.stdout
    assert not list(tmp_path.rglob("*.parquet"))


def test_bench_gpu_splits_a_wave_by_method_and_counts_image_passes():
    from rtl_sweep.bench.gpu import _image_passes, _split_by_method
    from rtl_sweep.config import RunConfig
    from rtl_sweep.context import build_context
    from rtl_sweep.units import wave
    ctx = build_context(RunConfig().with_overrides(["data.name=digits", "model.name=mlp", "prune.vectorize=on",
                                                    "prune.epochs=2", "joint.epochs=3"]), "cpu")
    by = _split_by_method(wave(ctx, 2))
    assert {u.kind for u in by["rtl"]} == {"loop", "joint"} and len(by["imp_multiple"]) == ctx.K
    assert [u.kind for u in by["imp_single"]] == ["loop", "equal"]
    single = next(u for u in by["imp_single"] if u.kind == "loop")
    assert _image_passes(ctx, single) == len(ctx.data.y_train) * 5  # all of it, prune + joint epochs


def test_bench_gpu_code_path_runs_on_cpu_and_writes_each_figure(tmp_path):
    """The GPU benchmark's whole code path, at a tiny scale on CPU (--gpu-allow-cpu): a GPU session
    has minutes, so a broken path must show here first. The figures mean nothing at this scale."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = cli.main(["bench", "gpu", "--gpu-allow-cpu", "--quick", "--gpu-scale", "0.005",
                       "--gpu-set", "model.name=mlp", "--gpu-set", "data.synthetic_shape=3,8,8",
                       "--output", str(tmp_path)])
    assert rc == 0
    parts = list((tmp_path / "tables" / "bench").glob("*.parquet"))
    rows = [r for p in parts for r in pq.read_table(p).to_pylist()]
    assert len(parts) == len(rows)  # one file per figure: written as measured
    figures = [r["figure"] for r in rows]
    for start in ("wall RTL (tickets + joint) / imp_single", "whole protocol wall", "training images per second",
                  "wall of a level's loops fused / one at a time", "wall of a fused dense level bf16 / fp32",
                  "RTL balanced accuracy bf16 / fp32 on "):
        assert any(f.startswith(start) for f in figures), start
    timed = [f for f in figures if not f.startswith("RTL balanced accuracy")]
    assert all(f.endswith("[synthetic data]") for f in timed)           # timings on the stand-in, labelled
    assert not any("synthetic" in f for f in figures if f not in timed)  # scores on real data only
    assert any("extrapolated" in f for f in figures)                     # --quick says what it did


def test_bench_joint_times_compile_and_layout_side_by_side(tmp_path):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = cli.main(["bench", "joint", "--repeats", "1", "--output", str(tmp_path),
                       "--joint-set", "data.name=synthetic", "--joint-set", "data.synthetic_size=60",
                       "--joint-set", "data.synthetic_shape=1,8,8", "--joint-set", "data.synthetic_classes=2",
                       "--joint-set", "model.width=2"])
    assert rc == 0
    rows = [r for p in (tmp_path / "tables" / "bench").glob("*.parquet") for r in pq.read_table(p).to_pylist()]
    assert sorted(r["figure"] for r in rows) == ["first compiled call incl. compiling / eager",
                                                 "joint retraining channels_last / contiguous",
                                                 "joint retraining compiled / eager"]  # no CUDA graphs on CPU
    assert all(r["ratio"] > 0 and r["numerator_s"] > 0 and r["denominator_s"] > 0 for r in rows)
