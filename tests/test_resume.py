"""`rtl-sweep resume` after the driver was SIGKILLed, as the manual (docs/sweep.md) says to use it: the default
relative --root, a real sweep (local Ray on 127.0.0.1, real Optuna) on digits with an MLP.

The sweep runs as `rtl-sweep sweep` in its own process group from one current directory and is
killed when a file appears (never after a time); `resume` runs from another current directory."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pyarrow.parquet as pq
import yaml

import rtl_sweep
from rtl_sweep.cli import main

SPACE = {
    "name": "resumed",
    "base": {"data.name": "digits", "model.name": "mlp", "model.width": 8, "prune.epochs": 1,
             "joint.epochs": 1, "prune.batch_size": 32, "prune.target_sparsity": 0.75, "baselines": [],
             "partition.method": "groups", "partition.groups": "0,1,2,3,4;5,6,7,8,9"},
    "space": {"prune.fraction": {"type": "float", "low": 0.4, "high": 0.6}},
    "objectives": [{"metric": "balanced_accuracy", "mode": "max"}],
    "sampler": "random", "seed": 0, "samples": 3, "max_concurrent": 1, "stopper": {"collapse": True},
    "resources": {"coordinator_cpus": 0.5, "ticket_cpus": 0.5, "actors": 1},
}
FINAL = {"completed", "stopped_collapse"}
OVER = {optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED}


def session_pids(sid: int) -> list[int]:
    """Live processes of session `sid` (Linux /proc; zombies left out: they are already dead)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, _, _, session = stat.read_text().rsplit(")", 1)[1].split()[:4]
        except (OSError, IndexError):
            continue  # ended while listed
        if int(session) == sid and state != "Z":
            pids.append(int(stat.parent.name))
    return pids


def kill_session(sid: int) -> None:
    """SIGKILL every process of the sweep's session: the driver, the local Ray it started and Ray's
    workers, which lead process groups of their own and would go on writing into the sweep folder
    for a while after the driver's group is gone. Returns once none is left."""
    while pids := session_pids(sid):
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def sweep_killed_when(cwd: Path, args: list[str], ready) -> None:
    """Run `rtl-sweep sweep ARGS` in `cwd` in a session of its own; SIGKILL all of it as soon as
    `ready()` is true. The deadline only stops a hung sweep from hanging CI."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(Path(rtl_sweep.__file__).parents[1]), os.environ.get("PYTHONPATH", "")]))
    log = cwd / "sweep.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "rtl_sweep.cli", "sweep", *args], cwd=cwd, env=env,
                                start_new_session=True, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 600
            while not ready():
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("the sweep ended (or hung) before the kill point:\n"
                                         + log.read_text()[-3000:])
                time.sleep(0.1)  # polling for the file; the kill point is the file, not this wait
        finally:
            kill_session(proc.pid)
            proc.wait()


def start_readme_flow(tmp_path: Path, ready_glob: str, samples: int) -> tuple[Path, Path]:
    """`rtl-sweep sweep search_spaces/resumed.yaml --samples N` in tmp/a with the default --root,
    killed once `ready_glob` (under the sweep folder) matches a file; returns (tmp/a, sweep folder)."""
    here = tmp_path / "a"
    (here / "search_spaces").mkdir(parents=True)
    (here / "search_spaces" / "resumed.yaml").write_text(yaml.safe_dump(SPACE))
    sweep = here / "sweeps" / "resumed"
    sweep_killed_when(here, ["search_spaces/resumed.yaml", "--samples", str(samples)],
                      lambda: any(sweep.glob(ready_glob)))
    return here, sweep


def study(sweep: Path) -> list:
    return optuna.load_study(study_name="resumed", storage=f"sqlite:///{sweep}/study.db").get_trials()


def rows(sweep: Path) -> dict[str, bytes]:
    return {f.name: f.read_bytes() for f in (sweep / "tables" / "trials").glob("*.parquet")}


def units(sweep: Path) -> dict[str, int]:
    """Every unit's checkpoint under the run folders, with its file's identity (inode, mtime)."""
    return {f.relative_to(sweep).as_posix(): (f.stat().st_ino, f.stat().st_mtime_ns)
            for f in sweep.glob("trials/*/ckpt/*/L*.pt")}


def check_resumed(sweep: Path, samples: int, out: str) -> None:
    """Every trial ended completed or stopped, none twice; the run folders hold every unit once."""
    summary = out[out.index("sweep resumed: "):].splitlines()[0]
    assert f"{samples} trials (" in summary and "failed" not in summary, summary
    t = pq.read_table(sweep / "tables" / "trials").to_pandas()
    assert len(t) == samples and t.trial_id.is_unique and set(t.status) <= FINAL, t[["trial_id", "status"]]
    assert sorted(t.trial_number) == list(range(samples))
    trials = study(sweep)
    assert len(trials) == samples and {s.state for s in trials} <= OVER, [s.state for s in trials]
    assert len({s.params["prune.fraction"] for s in trials}) == samples  # no trial drawn twice
    # one run folder per trial, and in each exactly the units of the levels the trial reported
    assert {p.name for p in (sweep / "trials").iterdir()} == {f"rtl-{r}" for r in t.run_id}
    expected = {f"trials/rtl-{r.run_id}/ckpt/{u}/L{level}.pt"
                for r in t.itertuples() for level in range(r.levels) for u in ("rtl-0", "rtl-1", "joint")}
    assert set(units(sweep)) == expected


def test_readme_flow_resume_after_kill_once_a_trial_finished(tmp_path, monkeypatch, capsys):
    here, sweep = start_readme_flow(tmp_path, "tables/trials/*.parquet", samples=3)
    finished, done = rows(sweep), units(sweep)
    assert finished
    before = {s.number: s for s in study(sweep) if s.state.is_finished()}
    assert len(before) >= len(finished)

    (tmp_path / "b").mkdir()
    monkeypatch.chdir(tmp_path / "b")
    assert main(["resume", "../a/sweeps/resumed"]) == 0

    check_resumed(sweep, 3, capsys.readouterr().out)
    now = units(sweep)
    assert all(now[path] == ident for path, ident in done.items())  # no unit computed twice
    after = rows(sweep)
    assert all(after[name] == data for name, data in finished.items())  # rows never rewritten
    now = {s.number: s for s in study(sweep)}
    for n, s in before.items():  # nor a finished trial's Optuna state
        assert (now[n].state, now[n].values, now[n].params, now[n].intermediate_values,
                now[n].datetime_complete) == (s.state, s.values, s.params, s.intermediate_values,
                                              s.datetime_complete)


def test_resume_of_a_trial_killed_mid_run_from_a_moved_folder(tmp_path, monkeypatch, capsys):
    # The kill point: mid-level, ticket 0 of the first trial has its level-1 checkpoint (ticket 1
    # and joint retraining of level 1 come after it).
    here, sweep = start_readme_flow(tmp_path, "trials/*/ckpt/rtl-0/L1.pt", samples=2)
    done = units(sweep)
    assert done and not rows(sweep)
    # Moved off to another place (as off a cluster): nothing may depend on the old path.
    moved = tmp_path / "c" / "copy"
    moved.parent.mkdir()
    sweep.rename(moved)
    (tmp_path / "b").mkdir()
    monkeypatch.chdir(tmp_path / "b")
    assert main(["resume", "../c/copy"]) == 0

    check_resumed(moved, 2, capsys.readouterr().out)
    # resumed from its last finished unit: what existed at the kill was not computed again
    now = units(moved)
    assert all(now[path] == ident for path, ident in done.items())
    assert not (here / "sweeps" / "resumed").exists()  # and nothing written at the old path


def test_searcher_restored_in_a_moved_folder_adopts_a_trial_asked_by_the_killed_driver(tmp_path):
    """The searcher alone, on a real study (no Ray): the killed driver had asked a trial from the
    study, after Tune's last save, and died before sampling its parameters."""
    import functools

    from rtl_sweep.sweep.search import TRIAL_ATTR, ResumableOptunaSearch
    from rtl_sweep.sweep.study import sampler

    def searcher(folder: Path) -> ResumableOptunaSearch:
        return ResumableOptunaSearch(space={"x": optuna.distributions.FloatDistribution(0.0, 1.0)},
                                     metric="m", mode="max", study_name="s",
                                     sampler_for=functools.partial(sampler, "random", 0),
                                     storage=optuna.storages.RDBStorage(f"sqlite:///{folder}/study.db"))

    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir()
    first = searcher(old)
    first.suggest("t1")
    first.on_trial_complete("t1", {"m": 0.9, "level": 2, "levels_total": 3})
    first.save(str(old / "searcher.pkl"))                       # Tune's last save
    optuna.load_study(study_name="s", storage=f"sqlite:///{old}/study.db").ask()  # then the kill
    old.rename(new)

    resumed = searcher(new)
    resumed.restore(str(new / "searcher.pkl"))
    assert str(old).encode() not in (new / "searcher.pkl").read_bytes()  # no path in the pickle
    resumed.on_trial_complete("t1", {"m": 0.1, "level": 2, "levels_total": 3})  # t1 rerun: ignored
    resumed.suggest("t2")   # adopts the asked trial and samples its parameter
    resumed.suggest("t3")   # asks a new one
    trials = optuna.load_study(study_name="s", storage=f"sqlite:///{new}/study.db").get_trials()
    assert [t.user_attrs.get(TRIAL_ATTR) for t in trials] == ["t1", "t2", "t3"]
    assert trials[0].values == [0.9] and len({t.params["x"] for t in trials}) == 3
    assert not old.exists()


def test_a_trials_row_is_written_once(tmp_path):
    """A resumed sweep may end a trial again that Tune had not saved as finished: its row stays."""
    from rtl_sweep.store import Store
    from rtl_sweep.sweep.space import parse_space
    from rtl_sweep.sweep.tables import trial_row, write_trial
    spec = parse_space(dict(SPACE), "resumed.yaml")
    last = {"level": 2, "levels_total": 3, "balanced_accuracy": 0.9}

    def row(status: str) -> dict:
        return trial_row(spec, "t1", {"prune.fraction": 0.5}, status, last, 0.9, 1.0, None, 0)
    assert write_trial(Store(tmp_path), spec, row("completed"))
    assert not write_trial(Store(tmp_path), spec, row("failed"))
    assert pq.read_table(tmp_path / "tables" / "trials").column("status").to_pylist() == ["completed"]
