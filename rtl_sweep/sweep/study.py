"""A sweep's Optuna study: its storage, its seeded sampler, and what we read back from it (each
trial's number, the Pareto front).

    python -c "from rtl_sweep.sweep.study import sampler; print(sampler('tpe', 0))"

On a bucket (a sweep folder s3://...), nodes share no disk and SQLite cannot lock an object: the
driver, the study's one writer, holds it in a local SQLite file fetched from the bucket when the
command starts, and uploads it whole (an object is published only once complete) after each change
the searcher makes, before Tune saves the searcher's state that refers to it. So the bucket's study
is never behind Tune's saved state, and `resume` on a new head node finds it.

The study is the record of what was searched: trial numbers and the best trials come from it, matched
to Tune's trials by the user attribute `tune_trial_id` the searcher sets (sweep/search.py).
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from pathlib import Path

import numpy as np

from rtl_sweep.errors import ResultsError
from rtl_sweep.store import Store

STUDY_FILE = "study.db"
_copies: dict[str, str] = {}  # sweep URI -> this process's local copy of its study.db


def sampler(kind: str, seed: int, trials: int = 0):
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
    if "://" in sweep_dir:
        return f"sqlite:///{local_copy(sweep_dir)}"
    return f"sqlite:///{Path(sweep_dir).absolute()}/{STUDY_FILE}"


def local_copy(sweep_uri: str) -> str:
    """This process's copy of a bucket sweep's study.db, fetched from the bucket on first use (the
    bucket holds the truth: a new head node, or a command after a killed driver, starts from it)."""
    if sweep_uri not in _copies:
        path = os.path.join(tempfile.mkdtemp(prefix="rtl-sweep-study-"), STUDY_FILE)
        store = Store(sweep_uri)
        if store.exists(STUDY_FILE):
            Path(path).write_bytes(store.read_bytes(STUDY_FILE))
        _copies[sweep_uri] = path
    return _copies[sweep_uri]


def persist(sweep_dir: str) -> None:
    """Upload a bucket sweep's study.db whole (a consistent snapshot via SQLite's backup API, as the
    driver's connection may be open); nothing to do for a local folder, where SQLite writes it."""
    if "://" not in sweep_dir or sweep_dir not in _copies:
        return
    snapshot = _copies[sweep_dir] + ".snapshot"
    src, dst = sqlite3.connect(_copies[sweep_dir]), sqlite3.connect(snapshot)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    Store(sweep_dir).write_bytes(STUDY_FILE, Path(snapshot).read_bytes())


def storage(sweep_dir: str):
    import optuna
    return optuna.storages.RDBStorage(study_storage(sweep_dir))


def load(sweep_dir: str, name: str):
    """The sweep's study, or None where it does not exist (yet)."""
    import optuna
    try:
        return optuna.load_study(study_name=name, storage=study_storage(sweep_dir))
    except Exception:
        return None


def trial_numbers(study) -> dict[str, int]:
    """Tune trial id -> Optuna trial number."""
    from rtl_sweep.sweep.search import TRIAL_ATTR
    if study is None:
        return {}
    return {t.user_attrs[TRIAL_ATTR]: t.number for t in study.get_trials(deepcopy=False)
            if TRIAL_ATTR in t.user_attrs}


def best_trial_ids(study) -> list[str]:
    """The Tune ids of Optuna's best trials (the Pareto front for several objectives)."""
    from rtl_sweep.sweep.search import TRIAL_ATTR
    if study is None:
        return []
    return [t.user_attrs[TRIAL_ATTR] for t in study.best_trials if TRIAL_ATTR in t.user_attrs]


def of_folder(sweep_dir: str):
    """The study of a sweep folder, local or on a bucket (its study.db holds one study), or None."""
    import optuna
    if "://" in sweep_dir:
        try:
            if not Store(sweep_dir).exists(STUDY_FILE):
                return None
        except (OSError, ResultsError):  # not a sweep folder, or the bucket unreachable
            return None
    elif not (Path(sweep_dir) / STUDY_FILE).is_file():
        return None
    names = optuna.get_all_study_names(study_storage(sweep_dir))
    return load(sweep_dir, names[0]) if len(names) == 1 else None


def importances(st, names: list[str] | None = None) -> dict[str, dict[str, float]]:
    """Optuna's parameter importances (fANOVA, seeded) per objective: objective -> {param: share}.
    Empty while fewer than two trials are complete or no parameter varies."""
    import optuna
    from optuna.importance import FanovaImportanceEvaluator, get_param_importances
    if st is None:
        return {}
    done = [t for t in st.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.COMPLETE]
    if len(done) < 2:
        return {}
    names = names or st.metric_names or [f"objective {i}" for i in range(len(st.directions))]
    out = {}
    for i, name in enumerate(names):
        target = (lambda t, i=i: t.values[i]) if len(names) > 1 else None
        try:
            out[name] = get_param_importances(st, evaluator=FanovaImportanceEvaluator(seed=0), target=target)
        except (RuntimeError, ValueError):  # e.g. every sampled value the same
            continue
    return out


def importance_table(imp: dict[str, dict[str, float]]) -> str:
    from rtl_sweep.text import number, table
    lines = []
    for name, shares in imp.items():
        lines.append(f"parameter importances for {name} (Optuna fANOVA; shares sum to 1):")
        lines.append(table(["parameter", "importance"], [[p, number(v, ".3f")] for p, v in shares.items()]))
    return "\n".join(lines)
