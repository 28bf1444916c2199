"""Advantage metrics, objectives read `at` a level, grouped choices, confirmation, importances and
the shipped study (issue 17)."""

import math
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from conftest import tiny_overrides
from rtl_sweep.config import RunConfig
from rtl_sweep.engine import Run

# Digits (1,797 8x8 images), an MLP, 3 levels: about a second per run on 2 cores.
TINY = tiny_overrides() + ["data.name=digits", "model.name=mlp", "model.width=16", "prune.target_sparsity=0.75",
                           "partition.method=groups", "partition.groups=0,1,2,3,4;5,6,7,8,9",
                           "data.max_per_class=40", "prune.lr=0.005", "joint.lr=0.005"]


def _agg(rows, method, level):
    return next(r for r in rows if r["method"] == method and r["level"] == level and r["ticket"] == -1)


def _by_hand(rows, level):
    rtl, eq, mult = _agg(rows, "rtl", level), _agg(rows, "imp_single_equal", level), _agg(rows, "imp_multiple", level)
    return (rtl["balanced_accuracy"] - eq["balanced_accuracy"], rtl["balanced_accuracy"] - mult["balanced_accuracy"],
            rtl["params_prunable"] / mult["params_prunable"])


@pytest.mark.parametrize("stop_at", [None, 1])
def test_advantages_equal_a_hand_computation_from_the_rounds_table(tmp_path, stop_at):
    """A finished run, and one stopped after level 1: the rows in the files, the values reported."""
    from rtl_sweep.sweep import objectives
    run = Run(RunConfig().with_overrides(TINY), tmp_path)
    result = run.execute(stop=(lambda rec: rec["level"] == stop_at) if stop_at else None)
    rounds = pq.read_table(Path(run.store.root) / "tables" / "rounds").to_pylist()
    levels = sorted({r["level"] for r in rounds if r["method"] == "rtl"})
    assert levels == ([0, 1] if stop_at else [0, 1, 2])
    for lv in levels[1:]:
        # advantage_multiple and the ratio live on RTL's row; advantage_single_equal on the equal row
        d_mult, ratio = _by_hand_mult(rounds, lv)
        assert _agg(rounds, "rtl", lv)["advantage_multiple"] == pytest.approx(d_mult)
        assert _agg(rounds, "rtl", lv)["params_ratio_multiple"] == pytest.approx(ratio)
        if any(r["method"] == "imp_single_equal" and r["level"] == lv for r in rounds):
            assert _agg(rounds, "imp_single_equal", lv)["advantage_single_equal"] == \
                pytest.approx(_by_hand(rounds, lv)[0])
            assert _agg(rounds, "rtl", lv)["advantage_single_equal"] is None
    # what a trial reports: the latest level that has an equal-parameter baseline
    rows = [r for rec in result["records"] for r in rec["rounds"]] + (run.late if not stop_at else [])
    got = objectives.latest(objectives.history(run.ctx.task, "rtl", rows))
    last_eq = 2 if not stop_at else 0  # stopped at 1: level 1's baseline never ran (wave 2 did not)
    if last_eq:
        assert got["advantage_level"] == last_eq
        assert got["advantage_single_equal"] == pytest.approx(_by_hand(rounds, last_eq)[0])
        assert got["score_dense"] == pytest.approx(_agg(rounds, "imp_single", 0)["balanced_accuracy"])
    else:
        assert math.isnan(got["advantage_single_equal"])  # none complete yet: nothing to carry
    assert got["advantage_multiple"] == pytest.approx(_by_hand_mult(rounds, levels[-1])[0])


def _by_hand_mult(rows, level):
    rtl, mult = _agg(rows, "rtl", level), _agg(rows, "imp_multiple", level)
    return rtl["balanced_accuracy"] - mult["balanced_accuracy"], rtl["params_prunable"] / mult["params_prunable"]


def test_objectives_read_at_final_best_or_a_sparsity():
    from rtl_sweep.sweep.objectives import read_at
    hist = {0: {"sparsity": 0.0, "a": 0.1}, 1: {"sparsity": 0.5, "a": 0.3}, 2: {"sparsity": 0.75, "a": math.nan}}
    assert read_at(hist, "a", "final", "max") == 0.3  # the latest value that exists
    assert read_at(hist, "a", "best", "min") == 0.1
    assert read_at(hist, "a", "0.4", "max") == 0.3    # the first level at or past it
    assert math.isnan(read_at(hist, "a", "0.6", "max"))


def space(tmp_path, **over) -> dict:
    raw = {"name": "g", "base": {"baselines": ["imp_single", "imp_multiple", "imp_single_equal"]},
           "space": {"setting": {"type": "categorical", "choices": [
               {"label": "digits-km", "data.name": "digits", "partition.method": "kmeans", "partition.k": 3},
               {"label": "mnist-class", "data.name": "mnist5k", "partition.method": "class"}]},
               "prune.fraction": {"type": "float", "low": 0.3, "high": 0.6}},
           "objectives": [{"metric": "advantage_single_equal", "mode": "max", "at": "best"}]}
    raw.update(over)
    return raw


def test_grouped_choices_never_draw_an_invalid_pair(tmp_path):
    import optuna
    from rtl_sweep.sweep.space import parse_space
    spec = parse_space(space(tmp_path))
    assert spec.metrics == ["advantage_single_equal_at_best"]
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    pairs = set()
    for _ in range(30):
        t = study.ask(dict(spec.space))
        cfg = spec.trial_config(t.params)
        pairs.add((cfg.data.name, cfg.partition.method, cfg.partition.k))
        study.tell(t, 0.0)
    assert pairs == {("digits", "kmeans", 3), ("mnist5k", "class", 0)}


@pytest.mark.parametrize("change, message", [
    ({"base": {"baselines": ["imp_single"]}}, "needs the baseline imp_single_equal"),
    ({"objectives": [{"metric": "advantage_multiple", "at": "sometime"}]}, "at: 'sometime'"),
])
def test_spaces_that_cannot_be_read_are_refused_with_one_line(tmp_path, change, message):
    from rtl_sweep.errors import ConfigError
    from rtl_sweep.sweep.space import parse_space
    with pytest.raises(ConfigError, match=message):
        parse_space(space(tmp_path, **change))


def test_importances_on_a_tiny_in_process_study():
    import optuna
    from rtl_sweep.sweep.study import importance_table, importances
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(lambda t: 3 * t.suggest_float("x", 0, 1) + 0.01 * t.suggest_float("y", 0, 1), n_trials=20)
    imp = importances(study, ["advantage_single_equal"])["advantage_single_equal"]
    assert list(imp) == ["x", "y"] and imp["x"] > 0.9
    assert "advantage_single_equal" in importance_table({"advantage_single_equal": imp})


def test_confirm_reruns_top_n_times_s_seeds_with_the_derived_seeds(ray_local, tmp_path, capsys):
    """A sweep folder as `rtl-sweep sweep` leaves it (sweep.yaml, study, trial rows), three trials."""
    import optuna
    from rtl_sweep.cli import main
    from rtl_sweep.store import Store
    from rtl_sweep.sweep.confirm import derived_seeds
    from rtl_sweep.sweep.search import TRIAL_ATTR
    from rtl_sweep.sweep.space import parse_space
    from rtl_sweep.sweep.tables import trial_row, write_trial
    sweep = tmp_path / "sw"
    sweep.mkdir()
    base = dict(a.split("=", 1) for a in TINY)
    base = {k: yaml.safe_load(v) for k, v in base.items()}
    raw = {"name": "sw", "seed": 5, "base": base, "space": {"prune.fraction": {"type": "float", "low": 0.4, "high": 0.6}},
           "objectives": [{"metric": "advantage_multiple", "mode": "max"}]}
    (sweep / "sweep.yaml").write_text(yaml.safe_dump(raw))
    spec = parse_space(raw)
    study = optuna.create_study(study_name="sw", storage=f"sqlite:///{sweep}/study.db", direction="maximize")
    for n, (x, v) in enumerate([(0.4, 0.1), (0.5, 0.3), (0.6, 0.2)]):
        t = study.ask({"prune.fraction": optuna.distributions.FloatDistribution(0.4, 0.6)})
        t.suggest_float("prune.fraction", 0.4, 0.6)
        t.set_user_attr(TRIAL_ATTR, f"t{n}")
        study.tell(t, v)
        write_trial(Store(sweep), spec, trial_row(spec, f"t{n}", dict(t.params), "completed",
                                                  {"level": 2, "levels_total": 3, "advantage_multiple": v},
                                                  0.9, 1.0, None, n))
    assert main(["confirm", str(sweep), "--top", "2", "--seeds", "2"]) == 0
    out = capsys.readouterr().out
    rows = pq.read_table(sweep / "tables" / "confirm").to_pandas()
    seeds = derived_seeds(5, 2)
    assert sorted(zip(rows.trial_id, rows.seed)) == sorted((t, s) for t in ("t1", "t2") for s in seeds)
    assert len({p.name for p in (sweep / "confirm" / "runs").iterdir()}) == 4
    assert rows.obj_advantage_multiple.notna().all() and "95% interval" in out
    assert main(["confirm", str(sweep), "--top", "2", "--seeds", "2"]) == 0  # nothing rerun
    assert len(pq.read_table(sweep / "tables" / "confirm")) == 4


def test_the_shipped_study_validates():
    from rtl_sweep.sweep.space import load_space
    spec = load_space(Path(__file__).resolve().parents[1] / "search_spaces" / "where_rtl_wins.yaml")
    assert spec.metrics == ["advantage_single_equal"] and spec.modes == ["max"]
    assert set(spec.groups["setting"]) == {"digits-class", "digits-kmeans4", "mnist-kmeans4", "envs-group"}
    for label, keys in spec.groups["lr"].items():  # one learning rate for every method
        assert keys["prune.lr"] == keys["joint.lr"]
    for label in spec.groups["setting"]:
        cfg = spec.trial_config({"setting": label, "lr": "1e-3"})
        assert set(cfg.baselines) == {"imp_single", "imp_multiple", "imp_single_equal"}


@pytest.mark.parametrize("task, dense, single, failed", [
    ("classification", 0.95, 0.94, 0.0), ("classification", 0.95, 0.92, 1.0),
    ("inr", 30.0, 28.5, 0.0), ("inr", 30.0, 27.5, 1.0)])   # PSNR: 2 dB, not 0.02 dB
def test_a_failed_baseline_is_judged_on_the_tasks_scale(task, dense, single, failed):
    from rtl_sweep.advantages import level_metrics
    from rtl_sweep.tasks import get_task
    t = get_task(task)
    def agg(method, level, score):
        return {"method": method, "level": level, "ticket": -1, t.main_score: score, "params_prunable": 10}
    rows = [agg("imp_single", 0, dense), agg("rtl", 1, single), agg("imp_single_equal", 1, single),
            agg("imp_multiple", 1, single)]
    assert level_metrics(t, "rtl", rows)[1]["baseline_failed"] == failed


def test_confirm_takes_one_trial_per_configuration():
    """TPE draws a configuration again in a small discrete space; a repeat has the same run_id and
    score, and confirm takes the next distinct configuration instead of confirming it twice."""
    from rtl_sweep.sweep.confirm import top_trials
    from rtl_sweep.sweep.space import load_space
    spec = load_space(Path(__file__).resolve().parents[1] / "search_spaces" / "where_rtl_wins.yaml")
    rows = [{"trial_id": t, "run_id": run, "status": status, "obj_advantage_single_equal": v}
            for t, run, status, v in [("a", "r1", "completed", 0.04), ("b", "r1", "completed", 0.04),
                                      ("c", "r2", "completed", 0.03), ("d", "r3", "failed", 0.05),
                                      ("e", "r4", "completed", -0.01), ("f", "r1", "completed", 0.04)]]
    assert [r["trial_id"] for r in top_trials(spec, rows, 3)] == ["a", "c", "e"]
