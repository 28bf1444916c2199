"""Build, restore and run a sweep's Tune experiment (Optuna's sampler, the collapse stopper, the
tables writer).

    rtl-sweep sweep search_spaces/default.yaml --samples 4

The folder (sweep/folder.py), the study (sweep/study.py), the trial rows (sweep/tables.py) and the
callback that writes them (sweep/writer.py) each have their own module; this one wires them to Tune.
"""

from __future__ import annotations

import functools
import math
import os
import posixpath

from rtl_sweep.store import Store
from rtl_sweep.sweep import study
from rtl_sweep.sweep.folder import absolute, trial_rows, tune_storage
from rtl_sweep.sweep.space import SweepSpec
from rtl_sweep.sweep.tables import ended_row, write_pareto, write_trial


def _trainable(spec: SweepSpec, sweep_dir: str):
    from ray import tune
    from rtl_sweep.sweep.facts import k_of
    from rtl_sweep.sweep.trainable import rtl_trial, trial_resources
    fn = tune.with_parameters(rtl_trial, spec=spec, sweep_dir=sweep_dir)
    return tune.with_resources(fn, trial_resources(spec, k_of))


def _run_config(spec: SweepSpec, sweep_dir: str, callbacks: list):
    from ray import tune
    from rtl_sweep.sweep.stopper import CollapseStopper
    stop = CollapseStopper(int(spec.stopper.get("min_level", 0))) if spec.stopper.get("collapse") else None
    storage_path, storage_fs = tune_storage(sweep_dir)
    # A trial whose process or node dies is restarted up to 3 times (a ticket actor's restarts too),
    # each time resuming from its run folder; an error its own code raises repeats on each restart
    # (quickly: finished units are skipped) and the trial ends failed.
    return tune.RunConfig(name="tune", storage_path=storage_path, stop=stop,
                          storage_filesystem=storage_fs, callbacks=callbacks + _loggers(), verbose=0,
                          failure_config=tune.FailureConfig(max_failures=3))


def _loggers() -> list:
    # Tune's JSON and CSV loggers (its ResultGrid reads them); not TensorBoard's, which would import
    # torch into the driver through tensorboardX (and with it oneMKL, whose libraries failed to load
    # in the driver on some machines).
    from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback
    return [JsonLoggerCallback(), CSVLoggerCallback()]


def _search(spec: SweepSpec, sweep_dir: str):
    from rtl_sweep.sweep.search import ResumableOptunaSearch, SweepGenerator
    multi = len(spec.objectives) > 1
    searcher = ResumableOptunaSearch(space=dict(spec.space), study_name=spec.name,
                                     metric=spec.metrics if multi else spec.metrics[0],
                                     mode=spec.modes if multi else spec.modes[0],
                                     sampler_for=functools.partial(study.sampler, spec.sampler, spec.seed),
                                     storage=study.storage(sweep_dir),
                                     persist=functools.partial(study.persist, sweep_dir))
    return SweepGenerator(searcher, spec.max_concurrent, tune_storage(sweep_dir)[0])


def _new_tuner(spec: SweepSpec, sweep_dir: str, callbacks: list):
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    scheduler = None
    if spec.scheduler == "asha":
        scheduler = ASHAScheduler(time_attr="level", metric=spec.metrics[0], mode=spec.modes[0],
                                  max_t=10_000, grace_period=2, reduction_factor=2)  # no cap: levels end runs
    tune_config = tune.TuneConfig(search_alg=_search(spec, sweep_dir), scheduler=scheduler,
                                  num_samples=spec.samples)
    return tune.Tuner(_trainable(spec, sweep_dir), tune_config=tune_config,
                      run_config=_run_config(spec, sweep_dir, callbacks))


def _restored_tuner(spec: SweepSpec, sweep_dir: str, tune_dir: str, callbacks: list):
    """Tune's saved experiment, with this command's searcher and callbacks.

    Unfinished trials (running when the driver died) resume from their run folders, as the same
    Optuna trials (see search.py). Errored trials stay failed (recorded FAIL in the study): rerunning
    them under the same trial id could not update their finished Optuna trial."""
    from ray import tune
    tuner = tune.Tuner.restore(tune_dir, trainable=_trainable(spec, sweep_dir), resume_unfinished=True,
                               restart_errored=False, storage_filesystem=tune_storage(sweep_dir)[1])
    # Restore unpickles the old command's searcher and callbacks. This command's replace them: a
    # searcher on this folder's study.db (Tune then loads its saved state into it; the folder may
    # have moved) and a writer with its --quiet and fresh timers. Ray 2.58 offers no public setter
    # for a restored Tuner's search algorithm or callbacks: the one place we reach into its privates.
    local = tuner._local_tuner
    local._tune_config.search_alg = _search(spec, sweep_dir)
    local._tune_config.max_concurrent_trials = None  # in _search (older sweeps: here)
    local._run_config.callbacks = callbacks + _loggers()
    return tuner


def run_sweep(spec: SweepSpec, sweep_dir: str, address: str | None = None, quiet: bool = False,
              resume: bool = False, mlflow: str | None = None) -> list[dict]:
    from rtl_sweep.distributed.ray_init import init_ray
    # Every path a trial uses derives from this one, absolute before any trial starts: Tune runs
    # each trial in its own working directory, where a relative path names another folder.
    sweep_dir = absolute(sweep_dir)
    # Tune saves its experiment state at most this often; short, so a killed driver loses little.
    os.environ.setdefault("TUNE_GLOBAL_CHECKPOINT_S", "1")
    import torch  # noqa: F401  (torch in the driver first, before Ray starts threads)
    init_ray(address)
    from ray import tune
    from rtl_sweep.sweep import tracking
    from rtl_sweep.sweep.writer import TableWriter
    store = Store(sweep_dir)
    callbacks = [TableWriter(spec, store, sweep_dir, quiet), *tracking.callbacks(mlflow, spec.name)]
    storage_path, storage_fs = tune_storage(sweep_dir)
    tune_dir = posixpath.join(storage_path, "tune")
    if resume and not tune.Tuner.can_restore(tune_dir, storage_filesystem=storage_fs):
        # Killed before Tune saved anything (it starts a few seconds after sweep.yaml is written):
        # no trial ran, so the sweep starts; a trial already asked from the study is adopted.
        resume = False
    tuner = _restored_tuner(spec, sweep_dir, tune_dir, callbacks) if resume else _new_tuner(spec, sweep_dir, callbacks)
    grid = tuner.fit()
    study.persist(sweep_dir)
    _write_missing_rows(spec, sweep_dir, store, grid)
    rows = trial_rows(store)
    write_pareto(store, spec, [r for r in rows if r["status"] != "failed"],
                 study.best_trial_ids(study.load(sweep_dir, spec.name)))
    return rows


def _write_missing_rows(spec: SweepSpec, sweep_dir: str, store: Store, grid) -> None:
    """Rows of trials that finished while the driver was down (no callback saw them end)."""
    written = {x["trial_id"] for x in trial_rows(store)}
    missing = [r for r in grid if r.metrics and r.metrics.get("trial_id") not in written]
    numbers = study.trial_numbers(study.load(sweep_dir, spec.name)) if missing else {}
    for r in missing:
        frame = r.metrics_dataframe
        best = float(frame["balanced_accuracy"].max()) \
            if frame is not None and "balanced_accuracy" in frame else math.nan
        write_trial(store, spec, ended_row(spec, r.metrics["trial_id"], r.config, r.metrics, r.error, best,
                                           r.metrics.get("time_total_s", math.nan), numbers))
