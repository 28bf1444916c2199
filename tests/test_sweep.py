"""Sweeps end to end: a real Ray Tune + Optuna search on small real data (local Ray, 127.0.0.1)."""

from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from rtl_sweep.cli import main

TINY_BASE = {
    "data.max_per_class": 40, "prune.epochs": 1, "joint.epochs": 1, "prune.batch_size": 32,
    "model.width": 8, "partition.method": "groups", "partition.groups": "0,1,2,3,4;5,6,7,8,9",
    "baselines": [],
}
RESOURCES = {"coordinator_cpus": 0.5, "ticket_cpus": 0.5, "actors": 1}


def write_space(tmp_path: Path, name: str, **over) -> Path:
    raw = {"name": name, "base": dict(TINY_BASE, **over.pop("base", {})),
           "space": {"prune.fraction": {"type": "float", "low": 0.4, "high": 0.6}},
           "objectives": [{"metric": "balanced_accuracy", "mode": "max"}],
           "sampler": "random", "seed": 0, "samples": 2, "max_concurrent": 1, "resources": RESOURCES}
    raw.update(over)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def trials(sweep_dir: Path):
    return pq.read_table(sweep_dir / "tables" / "trials").to_pandas()


def test_sweep_end_to_end_and_study_loads(ray_local, tmp_path, capsys):
    space = write_space(tmp_path, "e2e", base={"prune.target_sparsity": 0.75},
                        space={"prune.fraction": {"type": "float", "low": 0.4, "high": 0.6}},
                        objectives=[{"metric": "balanced_accuracy", "mode": "max"},
                                    {"metric": "params_prunable", "mode": "min"}], sampler="tpe")
    assert main(["sweep", str(space), "--root", str(tmp_path / "sw"), "-q"]) == 0
    out = capsys.readouterr().out
    assert "best" in out and "balanced_accuracy" in out
    sweep = tmp_path / "sw" / "e2e"
    t = trials(sweep)
    assert len(t) == 2 and set(t.status) == {"completed"} and t.trial_id.is_unique
    assert (t.balanced_accuracy > 0.6).all() and (t.k == 2).all()
    assert {"param_prune_fraction", "obj_balanced_accuracy", "obj_params_prunable"} <= set(t.columns)
    import optuna
    study = optuna.load_study(study_name="e2e", storage=f"sqlite:///{sweep}/study.db")
    done = [s for s in study.trials if s.state == optuna.trial.TrialState.COMPLETE]
    assert len(done) == 2 and sorted(s.params["prune.fraction"] for s in done) == \
        sorted(t.param_prune_fraction)
    pareto = pq.read_table(sweep / "tables" / "pareto").to_pandas()
    assert 1 <= len(pareto) <= 2 and set(pareto.trial_id) <= set(t.trial_id)
    # each trial's run folder holds its rounds, one row per level
    rounds = pq.read_table(next((sweep / "trials").iterdir()) / "tables" / "rounds").to_pandas()
    assert set(rounds.method) == {"rtl", "rtl_tickets"}
    # the results commands on this real sweep
    capsys.readouterr()
    assert main(["results", str(sweep), "--top", "2"]) == 0
    assert "param_prune_fraction" in capsys.readouterr().out
    assert main(["query", str(sweep), "select count(*) as n from trials", "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[1] == "2"
    assert main(["report", str(sweep), "--output", str(tmp_path / "report")]) == 0
    assert (tmp_path / "report" / "index.html").stat().st_size > 10_000


def test_asha_scheduler_option(ray_local, tmp_path):
    space = write_space(tmp_path, "asha", samples=2, scheduler="asha", base={"prune.target_sparsity": 0.75})
    assert main(["sweep", str(space), "--root", str(tmp_path / "sw"), "-q"]) == 0
    t = trials(tmp_path / "sw" / "asha")
    assert len(t) == 2 and set(t.status) <= {"completed", "stopped_collapse"}


def test_collapse_stopper_ends_a_collapsing_trial(ray_local, tmp_path, capsys):
    # Built to collapse: pruned to 99.9% with a detector threshold so low that the first abrupt
    # change of the (label-free) signal fires it.
    space = write_space(tmp_path, "collapse", samples=1,
                        base={"prune.target_sparsity": 0.999, "signal.threshold": 0.01,
                              "signal.watch": "global"})
    capsys.readouterr()
    assert main(["sweep", str(space), "--root", str(tmp_path / "sw"), "-q"]) == 0
    assert "none has a value of" in capsys.readouterr().out  # not an empty "best 0" table
    (row,) = trials(tmp_path / "sw" / "collapse").to_dict("records")
    assert row["status"] == "stopped_collapse"
    assert row["collapse_sparsity"] == pytest.approx(row["sparsity"]) and row["collapse_sparsity"] < 0.999
    levels_total = len(list((tmp_path / "sw" / "collapse" / "trials").glob("*/ckpt/rtl-0/L*.pt")))
    assert row["levels"] == levels_total  # it stopped at the level that fired: no further level ran
    # stopped before its target sparsity: no objective value, PRUNED in the study, and its run
    # folder says why it ended
    assert row["objective"] is None or row["objective"] != row["objective"]
    import optuna
    study = optuna.load_study(study_name="collapse",
                              storage=f"sqlite:///{tmp_path / 'sw' / 'collapse'}/study.db")
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.PRUNED]
    runs = pq.read_table(next((tmp_path / "sw" / "collapse" / "trials").iterdir()) / "tables" / "runs")
    assert runs.column("status").to_pylist() == ["stopped_collapse"]


def test_trial_keeps_going_when_nothing_collapses(ray_local, tmp_path):
    space = write_space(tmp_path, "steady", samples=1,
                        base={"prune.target_sparsity": 0.9, "signal.threshold": 100.0})
    assert main(["sweep", str(space), "--root", str(tmp_path / "sw"), "-q"]) == 0
    (row,) = trials(tmp_path / "sw" / "steady").to_dict("records")
    assert row["status"] == "completed" and row["sparsity"] == pytest.approx(0.9, abs=1e-3)
    assert row["collapse_sparsity"] is None or row["collapse_sparsity"] != row["collapse_sparsity"]


@pytest.mark.parametrize("change, message", [
    ({"space": {"prune.fractoin": {"type": "float", "low": 0.1, "high": 0.5}}},
     "unknown key 'prune.fractoin' in 'space'"),
    ({"space": {"prune.fraction": {"type": "float", "low": 0.5, "high": 0.5}}}, "empty range"),
    ({"space": {"prune.fraction": {"type": "float", "low": 0.6, "high": 0.2}}}, "inverted range"),
    ({"space": {"prune.ranking": {"type": "categorical", "choices": []}}}, "categorical with no choices"),
    ({"space": {"partition.k": {"type": "int", "low": 2, "high": 5000}}}, "partition.k=5000 cannot be supported"),
    ({"objectives": [{"metric": "balanced_acc", "mode": "max"}]}, "not a recorded metric"),
    ({"base": {"prune.target_sparsity": 1.5}}, "outside [0, 1)"),
])
def test_search_space_errors_are_one_line(tmp_path, capsys, change, message):
    space = write_space(tmp_path, "bad", **change)
    assert main(["sweep", str(space), "--root", str(tmp_path / "sw")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and str(space) in err and "Traceback" not in err
    if "fractoin" in message:
        assert "prune.fraction" in err  # the nearest valid key is named


def test_resume_of_a_sweep_killed_before_tune_started(ray_local, tmp_path):
    """Killed between writing sweep.yaml and Tune's first save (a few seconds: Ray starting):
    neither `sweep` (the folder exists) nor a restore can go on, so resume runs the whole sweep."""
    from rtl_sweep.sweep.space import load_space
    from rtl_sweep.sweep.folder import prepare
    space = write_space(tmp_path, "early", samples=2, base={"prune.target_sparsity": 0.75})
    _, sweep = prepare(load_space(space), str(tmp_path / "sw"), None)
    assert not (Path(sweep) / "tune").exists()
    assert main(["resume", sweep, "-q"]) == 0
    t = trials(Path(sweep))
    assert len(t) == 2 and t.trial_id.is_unique and set(t.status) == {"completed"}


def test_resume_of_a_folder_that_is_not_a_sweep(tmp_path, capsys):
    assert main(["resume", str(tmp_path)]) == 2
    assert "is not a sweep folder" in capsys.readouterr().err


@pytest.mark.parametrize("path", sorted(Path(__file__).resolve().parents[1].glob("search_spaces/*.yaml")))
def test_shipped_spaces_load(path):
    from rtl_sweep.sweep.space import load_space
    spec = load_space(path)
    assert spec.space and spec.objectives and spec.base_config().validate()
