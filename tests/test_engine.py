"""End to end on real MNIST (small): a run, its tables, determinism, skip-on-rerun, crash + resume,
the CLI's summary and its one-line errors.

    python -m pytest tests/test_engine.py -q --durations=10
"""

from __future__ import annotations

import contextlib
import io
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from conftest import tiny_overrides

from rtl_sweep import cli
from rtl_sweep.config import RunConfig
from rtl_sweep.engine import Run
from rtl_sweep.executor import LocalExecutor
from rtl_sweep.pruning import kept, shrinks, union
from rtl_sweep.units import run_unit

# tiny_overrides plus a width-8 CNN, 40 images per class, 3 levels (dense, 50%, 75%) and a learning
# rate that learns in one epoch: about 2 s per run on 2 cores, balanced accuracy ~0.8 at level 1.
ENGINE = tiny_overrides() + ["model.width=8", "data.max_per_class=40", "prune.target_sparsity=0.75",
                             "prune.lr=0.005", "joint.lr=0.005"]
METHODS = {"rtl", "rtl_tickets", "imp_single", "imp_multiple", "imp_single_equal"}


def _cfg(*extra: str) -> RunConfig:
    return RunConfig().with_overrides(ENGINE + list(extra))


class RecordingExecutor(LocalExecutor):
    """The local executor, noting (unit, seconds; 0 = skipped) and optionally crashing at a unit."""

    def __init__(self, ctx, store, log: list, crash_at=None):
        super().__init__(ctx, store)
        self.log, self.crash_at = log, crash_at

    def run(self, units, progress=None):
        for u in units:
            if self.crash_at and self.crash_at(u):
                raise RuntimeError(f"simulated crash before {u}")
            self.log.append((str(u), run_unit(self.ctx, self.store, u)))


def _recording(log: list, crash_at=None):
    return lambda ctx, store: RecordingExecutor(ctx, store, log, crash_at)


def _table(folder: Path, table: str) -> list[dict]:
    # ParquetFile, not pq.read_table: the runs parts repeat the column `name` (the run's label and
    # the flattened config key), which the dataset reader refuses (reported, not fixed here).
    return [r for f in sorted((folder / "tables" / table).glob("*.parquet"))
            for r in pq.ParquetFile(f).read().to_pylist()]


def _rounds(folder: Path) -> list[dict]:
    return _table(folder, "rounds")


def _runs(folder: Path) -> list[dict]:
    return _table(folder, "runs")


def _ckpts(folder: Path) -> dict[str, dict]:
    return {str(p.relative_to(folder)): torch.load(p, weights_only=True)
            for p in sorted((folder / "ckpt").glob("*/L*.pt"))}


def _assert_same_masks(a: Path, b: Path, logits: bool = True) -> None:
    ca, cb = _ckpts(a), _ckpts(b)
    assert set(ca) == set(cb) and any(k.startswith("ckpt/rtl-") for k in ca)
    for rel in ca:
        for key in ("mask", "next_mask"):
            if key in ca[rel]:
                assert all(torch.equal(ca[rel][key][n], cb[rel][key][n]) for n in ca[rel][key]), rel
        if logits and "logits" in ca[rel]:
            la, lb = ca[rel]["logits"], cb[rel]["logits"]
            la, lb = (la, lb) if isinstance(la, list) else ([la], [lb])
            assert all(torch.equal(x, y) for x, y in zip(la, lb)), rel


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _mtimes(folder: Path) -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for p in (folder / "ckpt").rglob("*") if p.is_file()}




@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """One finished run of the ENGINE config: (run folder, Run, result)."""
    root = tmp_path_factory.mktemp("root_a")
    run = Run(_cfg(), root)
    return Path(run.store.root), run, run.execute()


def _cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = cli.main(argv)
    return rc, out.getvalue(), err.getvalue()


def _set(overrides: list[str]) -> list[str]:
    return [a for o in overrides for a in ("--set", o)]


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    """The same config through the CLI, into another output root."""
    root = tmp_path_factory.mktemp("root_b")
    rc, out, err = _cli(["run", "-o", str(root), *_set(ENGINE), "-q"])
    return rc, out, err, root / _cfg().folder_name()


# ---- one run -----------------------------------------------------------------------------------
def test_run_completes_with_every_method_above_chance(finished):
    folder, run, result = finished
    assert result["status"] == "completed" and run.ctx.levels == 3 and run.ctx.K == 10
    assert [r["level"] for r in result["records"]] == [0, 1, 2]
    assert (folder / "config.yaml").exists()
    rows = _rounds(folder)
    agg = [r for r in rows if r["ticket"] == -1]
    assert {r["method"] for r in agg} == METHODS
    level1 = {r["method"]: r for r in agg if r["level"] == 1}
    assert set(level1) == METHODS
    for method, r in level1.items():
        assert r["balanced_accuracy"] > 0.6, (method, r["balanced_accuracy"])  # chance is 0.5
        assert 0.0 <= r["precision"] <= 1.0 and 0.0 <= r["recall"] <= 1.0
    # per-ticket rows: one per subset for the K-ticket methods
    per = [r for r in rows if r["method"] == "rtl" and r["level"] == 1 and r["ticket"] >= 0]
    assert sorted(r["ticket"] for r in per) == list(range(10))
    assert [r["status"] for r in _runs(folder)] == ["completed"]


def test_parameter_counts_union_between_largest_ticket_and_sum(finished):
    folder, run, _ = finished
    agg = {(r["method"], r["level"]): r for r in _rounds(folder) if r["ticket"] == -1}
    ck = _ckpts(folder)
    for level in range(run.ctx.levels):
        masks = [ck[f"ckpt/rtl-{k}/L{level}.pt"]["mask"] for k in range(run.ctx.K)]
        rtl, sep = agg[("rtl", level)], agg[("rtl_tickets", level)]
        assert rtl["params_count"] == "union" and sep["params_count"] == "sum"
        assert rtl["params_prunable"] == kept(union(masks))
        assert max(kept(m) for m in masks) <= rtl["params_prunable"] <= sep["params_prunable"]
        assert sep["params_prunable"] == sum(kept(m) for m in masks)
        assert rtl["params_total"] == rtl["params_prunable"] + run.ctx.dense_params
        # each separate one-vs-rest copy keeps only its own classifier row (and bias)
        head = run.ctx.model.module.classifier
        per_copy = run.ctx.dense_params - (run.ctx.K - 1) * (head.in_features + 1)
        assert run.ctx.task.dense_per_copy(run.ctx) == per_copy
        assert sep["params_total"] == sep["params_prunable"] + run.ctx.K * per_copy
        if level >= 1:
            # the equal-parameter baseline stores exactly as many weights as RTL's mask union
            eq = agg[("imp_single_equal", level)]
            assert eq["params_prunable"] == rtl["params_prunable"]
            assert kept(ck[f"ckpt/imp_single_equal/L{level}.pt"]["mask"]) == rtl["params_prunable"]
    assert agg[("rtl", 0)]["params_prunable"] == run.ctx.total_prunable


def test_sparsities_follow_the_schedule(finished):
    folder, run, _ = finished
    ctx = run.ctx
    assert ctx.kept == [ctx.total_prunable, round(ctx.total_prunable / 2), round(ctx.total_prunable / 4)]
    ck = _ckpts(folder)
    loops = [f"rtl-{k}" for k in range(ctx.K)] + [f"imp_multiple-{k}" for k in range(ctx.K)] + ["imp_single"]
    for loop in loops:
        prev = None
        for level in range(ctx.levels):
            mask = ck[f"ckpt/{loop}/L{level}.pt"]["mask"]
            assert kept(mask) == ctx.kept[level], (loop, level)   # global ranking: exact counts
            if prev is not None:
                assert shrinks(prev, mask), (loop, level)         # masks only shrink
            prev = mask
    for r in _rounds(folder):
        if r["ticket"] == -1 and r["method"] != "imp_single_equal":
            assert r["sparsity"] == pytest.approx(ctx.sparsity(r["level"]), abs=1e-12), r["method"]


def test_same_seed_in_another_root_gives_identical_masks(finished, cli_run):
    folder_a = finished[0]
    rc, _, _, folder_b = cli_run
    assert rc == 0 and folder_b.name == folder_a.name
    _assert_same_masks(folder_a, folder_b)
    key = lambda r: (r["method"], r["level"], r["ticket"])
    ra = {key(r): r["balanced_accuracy"] for r in _rounds(folder_a)}
    rb = {key(r): r["balanced_accuracy"] for r in _rounds(folder_b)}
    assert ra == rb


def test_different_seed_gives_different_masks(finished, tmp_path):
    folder_a, run_a, _ = finished
    run = Run(_cfg("seed=1"), tmp_path)
    run.execute()
    other = Path(run.store.root)
    assert other.name != folder_a.name
    ca, cb = _ckpts(folder_a), _ckpts(other)
    for k in range(run.ctx.K):
        a, b = ca[f"ckpt/rtl-{k}/L1.pt"]["mask"], cb[f"ckpt/rtl-{k}/L1.pt"]["mask"]
        assert not all(torch.equal(a[n], b[n]) for n in a), k
        assert kept(a) == kept(b)                 # same schedule, different weights chosen


def test_rerun_in_same_root_skips_every_unit(finished):
    folder = finished[0]
    before = _mtimes(folder)
    log: list = []
    run = Run(_cfg(), folder.parent, executor=_recording(log))
    result = run.execute()
    assert result["status"] == "completed"
    assert log and all(seconds == 0.0 for _, seconds in log), [u for u, s in log if s]
    assert _mtimes(folder) == before                      # no checkpoint rewritten
    assert [r["status"] for r in _runs(folder)].count("completed") >= 2


def test_stop_callback_ends_the_run_between_levels(finished):
    folder = finished[0]
    result = Run(_cfg(), folder.parent).execute(stop=lambda rec: rec["level"] == 1)
    assert result["status"] == "stopped_collapse" and [r["level"] for r in result["records"]] == [0, 1]


# ---- crash and resume --------------------------------------------------------------------------
def test_deleted_last_level_checkpoints_are_recomputed_identically(finished, tmp_path):
    folder_a, run_a, _ = finished
    copy = tmp_path / folder_a.name
    shutil.copytree(folder_a, copy)
    last = run_a.ctx.levels - 1
    deleted = [p for p in (copy / "ckpt").glob(f"*/L{last}.pt*")
               if p.parent.name in ("rtl-0", "rtl-3", "imp_multiple-5", "imp_single", "joint")]
    assert len(deleted) == 10
    for p in deleted:
        p.unlink()
    log: list = []
    result = Run(_cfg(), tmp_path, executor=_recording(log)).execute()
    assert result["status"] == "completed"
    recomputed = {u for u, s in log if s > 0}
    assert recomputed == {f"rtl-0@L{last}", f"rtl-3@L{last}", f"imp_multiple-5@L{last}",
                          f"imp_single@L{last}", f"joint@L{last}"}
    _assert_same_masks(folder_a, copy)


@pytest.mark.parametrize("how", ["progress", "executor"])
def test_crash_mid_run_then_rerun_resumes_with_identical_masks(finished, tmp_path, how):
    folder_a = finished[0]
    cfg = _cfg()

    def boom(line: str) -> None:   # the per-level progress callback dies after level 1
        if line.startswith("level 1/"):
            raise RuntimeError("simulated crash in progress")

    log: list = []
    if how == "progress":
        crashing = Run(cfg, tmp_path, progress=boom)
    else:                          # dies in the middle of batch 1 (some level-1 units done)
        crashing = Run(cfg, tmp_path, executor=_recording(
            log, crash_at=lambda u: u.level == 1 and u.loop_kind == "imp_multiple" and u.k == 3))
    with pytest.raises(RuntimeError, match="simulated crash"):
        crashing.execute()
    folder = Path(crashing.store.root)
    assert [r["status"] for r in _runs(folder)] == ["failed"]
    assert not (folder / "ckpt" / "rtl-0" / "L2.pt").exists()
    if how == "executor":
        assert (folder / "ckpt" / "imp_multiple-2" / "L1.pt").exists()
        assert not (folder / "ckpt" / "imp_multiple-3" / "L1.pt").exists()

    relog: list = []
    result = Run(cfg, tmp_path, executor=_recording(relog)).execute()
    assert result["status"] == "completed"
    skipped = {u for u, s in relog if s == 0.0}
    assert {f"rtl-{k}@L0" for k in range(10)} <= skipped and "joint@L0" in skipped
    assert "rtl-0@L2" not in skipped
    _assert_same_masks(folder_a, folder)
    assert sorted(r["status"] for r in _runs(folder)) == ["completed", "failed"]


# ---- the CLI -----------------------------------------------------------------------------------
def test_cli_run_prints_the_summary_table(cli_run):
    rc, out, err, folder = cli_run
    assert rc == 0, err
    assert "At equal sparsity" in out and "At equal total parameters" in out
    assert "RTL (joint)" in out and "IMP single" in out and "completed in" in out
    assert "Traceback" not in err
    # the equal-parameter comparison has every pruned level, the last one included (its baseline
    # is computed after the last yielded level)
    equal = out.split("At equal total parameters")[1].split("\n\n")[0].splitlines()[3:]
    assert [line.split()[0] for line in equal] == ["1", "2"], equal
    assert {("imp_single_equal", 1), ("imp_single_equal", 2)} <= \
        {(r["method"], r["level"]) for r in _rounds(folder)}


def _mnist_npz(path: Path, constant_group: bool) -> None:
    """Real MNIST digits under two conditions (as stored, and inverted) as a user .npz file."""
    from rtl_sweep.data.bundled import load_mnist5k
    src = load_mnist5k()
    idx = np.concatenate([np.flatnonzero(src.y == c)[:24] for c in range(10)])
    x, y = src.x[idx].astype(np.float32), src.y[idx]
    group = np.arange(len(idx)) % 2
    x[group == 1] = 255.0 - x[group == 1]
    np.savez(path, X=x, y=y, group=np.zeros_like(group) if constant_group else group)


@pytest.fixture(scope="module")
def const_npz(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "const_group.npz"
    _mnist_npz(path, constant_group=True)
    return path


# what: (overrides, a word the error line must name)
BAD_INPUTS = {
    "unknown key": (["prune.fractoin=0.3"], "prune.fraction"),
    "unknown dataset": (["data.name=nope"], "'nope'"),
    "missing data file": (["data.name=file", "data.path=/nonexistent.npz"], "/nonexistent.npz"),
    "sparsity 1.5": (["prune.target_sparsity=1.5"], "target_sparsity=1.5"),
    "negative seed": (["seed=-1"], "seed=-1"),
    "kmeans K too large": (["partition.method=kmeans", "partition.k=500"], "partition.k=500"),
    "one-valued group column": (["data.name=file", "data.path={const}", "partition.method=group"],
                                "single group"),
}


def _assert_one_line_error(rc: int, out: str, err: str) -> None:
    assert rc == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and "; fix: " in lines[0], lines[0]
    assert "Traceback" not in err and "Traceback" not in out


def test_cli_bad_inputs_print_one_line_and_leave_a_finished_run_alone(finished, const_npz):
    folder = finished[0]
    before = _snapshot(folder)
    for what, (overrides, named) in BAD_INPUTS.items():
        overrides = [o.format(const=const_npz) for o in overrides]
        rc, out, err = _cli(["run", "-o", str(folder.parent), *_set(ENGINE + overrides), "-q"])
        _assert_one_line_error(rc, out, err)
        assert named in err, (what, err)
    assert _snapshot(folder) == before


def test_bad_data_under_a_finished_runs_own_config_leaves_it_byte_identical(tmp_path):
    """The same config (so the same run folder) after its data file went bad: missing, then a
    group column with one value. The finished run must not change by a byte."""
    data = tmp_path / "conditions.npz"
    _mnist_npz(data, constant_group=False)
    overrides = ENGINE + ["model.width=4", "data.name=file", f"data.path={data}",
                          "partition.method=group", "data.max_per_class=0"]
    root = tmp_path / "out"
    rc, out, err = _cli(["run", "-o", str(root), *_set(overrides), "-q"])
    assert rc == 0, err
    folder = root / RunConfig().with_overrides(overrides).folder_name()
    assert {r["method"] for r in _rounds(folder)} == METHODS
    before = _snapshot(folder)

    data.unlink()
    _assert_one_line_error(*_cli(["run", "-o", str(root), *_set(overrides), "-q"]))
    _mnist_npz(data, constant_group=True)
    _assert_one_line_error(*_cli(["run", "-o", str(root), *_set(overrides), "-q"]))
    assert _snapshot(folder) == before


# ---- multiclass protocol -----------------------------------------------------------------------
def test_multiclass_kmeans_run_reports_accuracy(tmp_path):
    cfg = _cfg("protocol=multiclass", "partition.method=kmeans", "partition.k=3")
    run = Run(cfg, tmp_path)
    assert run.ctx.K == 3 and run.ctx.num_outputs == 10
    result = run.execute()
    assert result["status"] == "completed"
    agg = [r for r in _rounds(Path(run.store.root)) if r["ticket"] == -1]
    assert {r["method"] for r in agg} == METHODS
    for r in agg:
        assert r["accuracy"] is not None and 0.0 <= r["accuracy"] <= 1.0, r["method"]
    level1 = {r["method"]: r["accuracy"] for r in agg if r["level"] == 1}
    assert all(acc > 0.3 for acc in level1.values()), level1     # 10 classes: chance 0.1


def test_multiclass_single_model_has_no_per_ticket_rows_even_when_k_equals_classes(tmp_path):
    # Regression (fixed in records.py): with K == C the single model's per-CLASS scores were
    # written as per-ticket rows labelled cluster0..cluster9.
    cfg = _cfg("protocol=multiclass", "partition.method=kmeans", "partition.k=10", "model.width=4",
               "prune.target_sparsity=0.5", "baselines=imp_single")
    run = Run(cfg, tmp_path)
    run.execute()
    rows = _rounds(Path(run.store.root))
    single = [r for r in rows if r["method"] == "imp_single"]
    assert single and all(r["ticket"] == -1 for r in single)
    tickets = [r for r in rows if r["method"] == "rtl" and r["level"] == 1 and r["ticket"] >= 0]
    assert [r["subset"] for r in sorted(tickets, key=lambda r: r["ticket"])] == \
        [f"cluster{k}" for k in range(10)]
    assert all(r["accuracy"] is not None for r in tickets)


def test_readme_user_file_example_with_group_column(tmp_path, capsys):
    """The manual's example (docs/own_data.md): MNIST under three environments, routed by its group column."""
    from rtl_sweep.cli import main
    from rtl_sweep.data.make_example import write
    for name, extra in (("envs.npz", []), ("envs.parquet", ["--set", "data.group_column=environment",
                                                                       "--set", "model.name=mlp"])):
        path = write(str(tmp_path / name))
        code = main(["run", "-o", str(tmp_path / "runs"), "-q", "--set", "data.name=file",
                     "--set", f"data.path={path}", "--set", "partition.method=group",
                     "--set", "protocol=multiclass", "--set", "data.max_per_class=30",
                     "--set", "prune.epochs=1", "--set", "joint.epochs=1",
                     "--set", "prune.target_sparsity=0.5", *extra])
        out = capsys.readouterr().out
        assert code == 0 and "accuracy" in out and "At equal total parameters" in out
