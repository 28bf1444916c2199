"""Set up and run a sweep: Ray Tune trials, Optuna's sampler, the collapse stopper, the tables.

    rtl-sweep sweep search_spaces/default.yaml --samples 4

Sweep folder layout (<root>/<name>/):
    sweep.yaml            the search space as loaded, plus the command's settings
    study.db              the Optuna study (SQLite): optuna.load_study(study_name=<name>,
                          storage="sqlite:///<root>/<name>/study.db"), or optuna-dashboard
    tune/                 Tune's experiment state (what `rtl-sweep resume` restores)
    trials/<run>/         one run folder per trial (its rounds, similarity, masks)
    tables/trials/        one part per trial: params, status, final metrics
    tables/pareto/        the best trial(s): the Pareto front for several objectives
"""

from __future__ import annotations

import functools
import math
import os
import time
import uuid
from pathlib import Path

import numpy as np
import yaml

from rtl_sweep.config import RunConfig
from rtl_sweep.errors import ConfigError, ResultsError
from rtl_sweep.store import Store
from rtl_sweep.sweep.space import SweepSpec
from rtl_sweep.sweep.tables import trial_row, trial_status, write_pareto, write_trial


# ---- K of a trial, for its placement group and for validation --------------------------------
@functools.lru_cache(maxsize=64)
def _dataset_facts(data_cfg) -> tuple[int, int, int, tuple]:
    from rtl_sweep.data import load_dataset
    d = load_dataset(data_cfg, 0)
    groups = 0 if d.g_train is None else int(d.g_train.unique().numel())
    return len(d.y_train), d.num_classes, groups, tuple(d.class_names)


@functools.lru_cache(maxsize=64)
def _task_k(task: str, data_cfg, part_cfg, seed: int) -> int:
    """K as the task's own routing table has it (an INR's regions may be fewer than partition.k)."""
    import torch
    from rtl_sweep.tasks import get_task
    cfg = RunConfig(task=task, seed=seed, data=data_cfg, partition=part_cfg)
    return get_task(task).load(cfg, torch.device("cpu"))[1].k


def k_of(cfg: RunConfig) -> int:
    if cfg.task != RunConfig().task:
        return _task_k(cfg.task, cfg.data, cfg.partition, cfg.seed)
    p = cfg.partition
    n, classes, groups, names = _dataset_facts(cfg.data)
    if p.method == "kmeans":
        return p.k
    if p.method == "group":
        return groups
    if p.method == "class_groups":
        from rtl_sweep.partition import parse_groups
        return len(parse_groups(p.groups, list(names))[0])
    return classes


def check_k_range(spec: SweepSpec) -> None:
    """A K no data can support is refused before any trial starts."""
    import dataclasses

    import optuna.distributions as od
    base = spec.base_config()
    dist = spec.space.get("partition.k")
    if base.task != RunConfig().task:  # the task's own refusal (one line) for the extreme K values
        ks = [dist.low, dist.high] if isinstance(dist, od.IntDistribution) else \
            [int(c) for c in dist.choices] if isinstance(dist, od.CategoricalDistribution) else []
        for k in ks:
            k_of(dataclasses.replace(base, partition=dataclasses.replace(base.partition, k=k)))
        return
    n, classes, groups, _ = _dataset_facts(base.data)
    ks = []
    if isinstance(dist, od.IntDistribution):
        ks = [dist.low, dist.high]
    elif isinstance(dist, od.CategoricalDistribution):
        ks = [int(c) for c in dist.choices]
    elif base.partition.method == "kmeans":
        ks = [base.partition.k]
    bound = n // 2
    for k in ks:
        if k < 2 or k > bound:
            raise ConfigError(f"{spec.path}: partition.k={k} cannot be supported by {base.data.name} "
                              f"({n} training samples)", f"keep partition.k within [2, {bound}]")


def absolute(path: str) -> str:
    """`path` from this directory, absolute, '..' resolved (symlinks kept: a shared mount may be one)."""
    return os.path.abspath(os.path.expanduser(path))


# ---- Tune pieces ------------------------------------------------------------------------------
def _sampler(kind: str, seed: int, trials: int = 0):
    """The sweep's seeded sampler; for a resumed study that holds `trials` trials, seeded from both
    (see sweep/search.py: the saved random state may predate trials the study already has)."""
    import optuna
    if trials:
        seed = int(np.random.SeedSequence([seed, trials]).generate_state(1)[0])
    if kind == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if kind == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def study_storage(sweep_dir: str) -> str:
    return f"sqlite:///{Path(sweep_dir).absolute()}/study.db"


class TableWriter:
    """A Tune callback: prints progress, and writes each trial's row as soon as the trial ends."""

    def __new__(cls, *a, **kw):
        from ray.tune import Callback

        class _Writer(Callback):
            def __init__(self, spec: SweepSpec, store: Store, storage: str, quiet: bool):
                self.spec, self.store, self.storage, self.quiet = spec, store, storage, quiet
                self.best: dict[str, float] = {}
                self.started: dict[str, float] = {}

            def on_trial_start(self, iteration, trials, trial, **info):
                self.started.setdefault(trial.trial_id, time.time())

            def on_trial_result(self, iteration, trials, trial, result, **info):
                b = result.get("balanced_accuracy", math.nan)
                if not math.isnan(b):
                    self.best[trial.trial_id] = max(self.best.get(trial.trial_id, -1.0), b)
                if not self.quiet:
                    flag = "  COLLAPSE" if result.get("collapse") else ""
                    main = result.get("main_score", "balanced_accuracy")  # the trial's task's score
                    print(f"trial {trial.trial_id} level {int(result['level'])}/{int(result['levels_total']) - 1}"
                          f"  sparsity {result['sparsity']:.3f}  {result.get('main_label', 'bal.acc')} "
                          f"{result.get(main, math.nan):.3f}  mean J {result['mean_jaccard']:.3f}{flag}",
                          flush=True)

            def on_trial_complete(self, iteration, trials, trial, **info):
                self._write(trial, None)

            def on_trial_error(self, iteration, trials, trial, **info):
                msg = str(getattr(trial, "error_msg", None) or "the trial raised an error").strip()
                self._write(trial, msg.splitlines()[-1][:500] if msg else "the trial raised an error")

            def _write(self, trial, error: str | None):
                last = dict(trial.last_result or {})
                status = trial_status(last, error)
                params = {k: trial.config.get(k) for k in self.spec.space}
                wall = time.time() - self.started.get(trial.trial_id, time.time())
                row = trial_row(self.spec, trial.trial_id, params, status, last,
                                self.best.get(trial.trial_id, math.nan), wall, error,
                                _trial_number(self.storage, self.spec.name, trial.trial_id, params))
                if write_trial(self.store, self.spec, row) and not self.quiet:
                    print(f"trial {trial.trial_id}: {status}" + (f" ({error})" if error else ""), flush=True)

        return _Writer(*a, **kw)


def _trial_number(storage: str, name: str, trial_id: str, params: dict) -> int | None:
    import optuna

    from rtl_sweep.sweep.search import TRIAL_ATTR
    try:
        study = optuna.load_study(study_name=name, storage=storage)
    except Exception:
        return None
    trials = study.get_trials(deepcopy=False)
    # By the Tune trial id the searcher wrote; by parameters for a study without it.
    return next((t.number for t in trials if t.user_attrs.get(TRIAL_ATTR) == trial_id),
                next((t.number for t in trials if t.params == params), None))


def _trainable(spec: SweepSpec, sweep_dir: str):
    from ray import tune
    from rtl_sweep.sweep.trainable import rtl_trial, trial_resources
    fn = tune.with_parameters(rtl_trial, spec=spec, sweep_dir=sweep_dir)
    return tune.with_resources(fn, trial_resources(spec, k_of))


def _run_config(spec: SweepSpec, sweep_dir: str, callbacks: list):
    from ray import tune
    from rtl_sweep.sweep.atomic_fs import atomic_local_fs
    from rtl_sweep.sweep.stopper import CollapseStopper
    stop = CollapseStopper(int(spec.stopper.get("min_level", 0))) if spec.stopper.get("collapse") else None
    # A trial whose process or node dies is restarted up to 3 times (a ticket actor's restarts too),
    # each time resuming from its run folder; an error its own code raises repeats on each restart
    # (quickly: finished units are skipped) and the trial ends failed.
    return tune.RunConfig(name="tune", storage_path=sweep_dir, stop=stop,
                          storage_filesystem=atomic_local_fs(), callbacks=callbacks + _loggers(), verbose=0,
                          failure_config=tune.FailureConfig(max_failures=3))


def _loggers() -> list:
    # Tune's JSON and CSV loggers (its ResultGrid reads them); not TensorBoard's, which would import
    # torch into the driver through tensorboardX (see DEVELOPERS notes: oneMKL load failures).
    from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback
    return [JsonLoggerCallback(), CSVLoggerCallback()]


def _search(spec: SweepSpec, sweep_dir: str):
    from rtl_sweep.sweep.search import ResumableOptunaSearch, SweepGenerator
    multi = len(spec.objectives) > 1
    searcher = ResumableOptunaSearch(space=dict(spec.space), study_name=spec.name,
                                     metric=spec.metrics if multi else spec.metrics[0],
                                     mode=spec.modes if multi else spec.modes[0],
                                     sampler_for=functools.partial(_sampler, spec.sampler, spec.seed),
                                     storage=_storage_obj(sweep_dir))
    return SweepGenerator(searcher, spec.max_concurrent, sweep_dir)


def _tuner(spec: SweepSpec, sweep_dir: str, callbacks: list):
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    search = _search(spec, sweep_dir)
    scheduler = None
    if spec.scheduler == "asha":
        scheduler = ASHAScheduler(time_attr="level", metric=spec.metrics[0], mode=spec.modes[0],
                                  max_t=10_000, grace_period=2, reduction_factor=2)  # no cap: levels end runs
    tune_config = tune.TuneConfig(search_alg=search, scheduler=scheduler, num_samples=spec.samples)
    return tune.Tuner(_trainable(spec, sweep_dir), tune_config=tune_config,
                      run_config=_run_config(spec, sweep_dir, callbacks))


def _storage_obj(sweep_dir: str):
    import optuna
    return optuna.storages.RDBStorage(study_storage(sweep_dir))


# ---- the commands' work -----------------------------------------------------------------------
def prepare(spec: SweepSpec, root: str, name: str | None) -> tuple[SweepSpec, str]:
    import dataclasses
    if name:
        spec = dataclasses.replace(spec, name=name)
    sweep_dir = os.path.join(absolute(root), spec.name)
    if "://" in root:
        raise ConfigError("a sweep folder must be a path (a shared folder on a cluster)",
                          "mount the storage and pass its path, e.g. /mnt/shared/sweeps")
    _check_writable(root)  # first: a cluster job on an unwritable --root fails at once, in one line
    check_k_range(spec)
    store = Store(sweep_dir)
    if store.exists("sweep.yaml"):
        raise ConfigError(f"sweep folder {sweep_dir} already exists",
                          f"rtl-sweep resume {sweep_dir}, or pick another --name")
    store.write_text("sweep.yaml", yaml.safe_dump(_spec_record(spec), sort_keys=False))
    return spec, sweep_dir


def _check_writable(root: str) -> None:
    probe, rel = Store(root), f".write-probe-{uuid.uuid4().hex[:8]}"
    try:
        probe.write_text(rel, "")
        probe.delete(rel)
    except (ResultsError, OSError) as e:
        why = str(getattr(e, "problem", e)).split(": ", 1)[-1]  # the OS's reason, not the probe's name
        raise ConfigError(f"cannot write to --root {root} ({why})",
                          "pass a folder this node (every node, on a cluster) can write") from None


def _spec_record(spec: SweepSpec) -> dict:
    raw = yaml.safe_load(Path(spec.path).read_text())
    raw.update(name=spec.name, samples=spec.samples, max_concurrent=spec.max_concurrent, seed=spec.seed,
               source=str(Path(spec.path).absolute()))
    return raw


def load_sweep(sweep_dir: str) -> SweepSpec:
    p = Path(sweep_dir)
    if not (p / "sweep.yaml").is_file():
        raise ResultsError(f"{sweep_dir} is not a sweep folder (no sweep.yaml)",
                           "pass the folder `rtl-sweep sweep` created, e.g. sweeps/default")
    raw = yaml.safe_load((p / "sweep.yaml").read_text())
    raw.pop("source", None)
    from rtl_sweep.sweep.space import parse_space
    return parse_space(raw, str(p / "sweep.yaml"))


def run_sweep(spec: SweepSpec, sweep_dir: str, address: str | None = None, quiet: bool = False,
              resume: bool = False) -> list[dict]:
    from rtl_sweep.distributed.ray_init import init_ray
    # Every path a trial uses derives from this one, absolute before any trial starts: Tune runs
    # each trial in its own working directory, where a relative path names another folder.
    sweep_dir = absolute(sweep_dir)
    # Tune saves its experiment state at most this often; short, so a killed driver loses little.
    os.environ.setdefault("TUNE_GLOBAL_CHECKPOINT_S", "1")
    import torch  # noqa: F401  (torch in the driver first, before Ray starts threads)
    init_ray(address)
    store = Store(sweep_dir)
    writer = TableWriter(spec, store, study_storage(sweep_dir), quiet)
    from ray import tune
    from rtl_sweep.sweep.atomic_fs import atomic_local_fs
    tune_dir = str(Path(sweep_dir, "tune"))
    if resume and not tune.Tuner.can_restore(tune_dir, storage_filesystem=atomic_local_fs()):
        # Killed before Tune saved anything (it starts a few seconds after sweep.yaml is written):
        # no trial ran, so the sweep starts; a trial already asked from the study is adopted.
        resume = False
    if resume:
        tuner = tune.Tuner.restore(tune_dir, trainable=_trainable(spec, sweep_dir), resume_unfinished=True,
                                   restart_errored=False, storage_filesystem=atomic_local_fs())
        # Unfinished trials (running when the driver died) resume from their run folders, as the
        # same Optuna trials (see search.py). Errored trials stay failed (recorded FAIL in the study): rerunning them
        # under the same trial id could not update their finished Optuna trial.
        # Restore unpickles the old command's searcher and callbacks. This command's replace them:
        # a searcher on this folder's study.db (Tune then loads its saved state into it; the folder
        # may have moved) and a writer with its --quiet and fresh timers. Ray 2.58 offers no
        # public setter for a restored Tuner's search algorithm or callbacks.
        tuner._local_tuner._tune_config.search_alg = _search(spec, sweep_dir)
        tuner._local_tuner._tune_config.max_concurrent_trials = None  # in _search (older sweeps: here)
        tuner._local_tuner._run_config.callbacks = [writer] + _loggers()
    else:
        tuner = _tuner(spec, sweep_dir, [writer])
    grid = tuner.fit()
    written = {x["trial_id"] for x in _all_rows(store)}
    missing = [r for r in grid if r.metrics and r.metrics.get("trial_id") not in written]
    for r in missing:  # trials that finished while the driver was down: write their rows now
        t = r.metrics
        params = {k: r.config.get(k) for k in spec.space}
        error = str(r.error).splitlines()[-1][:500] if r.error else None
        best = float(r.metrics_dataframe["balanced_accuracy"].max()) \
            if r.metrics_dataframe is not None and "balanced_accuracy" in r.metrics_dataframe else math.nan
        row = trial_row(spec, t["trial_id"], params, trial_status(t, error), t, best,
                        t.get("time_total_s", math.nan), error,
                        _trial_number(study_storage(sweep_dir), spec.name, t["trial_id"], params))
        write_trial(store, spec, row)
    rows = _all_rows(store)
    write_pareto(store, spec, [r for r in rows if r["status"] != "failed"])
    return rows


def _all_rows(store: Store) -> list[dict]:
    out = []
    for rel in store.list("tables/trials", ".parquet"):
        out += store.read_table(rel).to_pylist()
    return out


def best_table(spec: SweepSpec, rows: list[dict], top: int = 5) -> str:
    from rtl_sweep.results.summary import table
    first, mode = spec.metrics[0], spec.modes[0]
    ok = [r for r in rows if r.get("obj_" + first) is not None]
    ok.sort(key=lambda r: r["obj_" + first], reverse=(mode == "max"))
    params = list(spec.space)
    header = ["trial", "status", "K", "levels", "sparsity", *spec.metrics, "collapse at", *params]
    body = []
    for r in ok[:top]:
        body.append([r["trial_id"], r["status"], str(r.get("k") or "-"), str(r["levels"]),
                     f"{r['sparsity']:.3f}" if r.get("sparsity") is not None else "-",
                     *[_fmt(r.get("obj_" + m)) for m in spec.metrics],
                     f"{r['collapse_sparsity']:.3f}" if r.get("collapse_sparsity") is not None else "-",
                     *[_fmt(r.get("param_" + p.replace(".", "_"))) for p in params]])
    counts = {}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    head = (f"sweep {spec.name}: {len(rows)} trials (" + ", ".join(f"{n} {s}" for s, n in counts.items())
            + f"); best {min(top, len(ok))} by {first} ({mode}):")
    return head + "\n" + table(header, body)


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.4g}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)

