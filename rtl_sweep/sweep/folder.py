"""A sweep's folder: created once with its search space, read back to resume or report.

    python -c "from rtl_sweep.sweep.folder import load_sweep; print(load_sweep('sweeps/default'))"

The root is a folder every node can see, or an object store URI (s3://bucket/sweeps: nodes that
share no disk; see docs/object_storage.md and sweep/study.py for the study there).

Layout (<root>/<name>/):
    sweep.yaml            the search space as loaded, plus the command's settings
    study.db              the Optuna study (SQLite): optuna.load_study(study_name=<name>,
                          storage="sqlite:///<root>/<name>/study.db"), or optuna-dashboard
                          (on a bucket: a copy the driver uploads whole after each change)
    tune/                 Tune's experiment state (what `rtl-sweep resume` restores)
    trials/<run>/         one run folder per trial (its rounds, similarity, masks)
    tables/trials/        one part per trial: params, status, final metrics
    tables/pareto/        the best trial(s): the Pareto front for several objectives
"""

from __future__ import annotations

import dataclasses
import os
import uuid
from pathlib import Path

import yaml

from rtl_sweep.errors import ConfigError, ResultsError
from rtl_sweep.store import Store
from rtl_sweep.sweep.facts import check_k_range
from rtl_sweep.sweep.space import SweepSpec, parse_space


def is_uri(path: str) -> bool:
    return "://" in str(path)


def absolute(path: str) -> str:
    """`path` from this directory, absolute, '..' resolved (symlinks kept: a shared mount may be one);
    a URI as given, less a trailing slash."""
    if is_uri(path):
        return str(path).rstrip("/")
    return os.path.abspath(os.path.expanduser(path))


def tune_storage(sweep_dir: str):
    """Tune's (storage_path, storage_filesystem) for a sweep folder: the bucket's own file system for
    a URI (an object is published only once whole), else the local one with atomic writes."""
    if is_uri(sweep_dir):
        store = Store(sweep_dir)
        return store.root, store.fs
    from rtl_sweep.sweep.atomic_fs import atomic_local_fs
    return sweep_dir, atomic_local_fs()


def prepare(spec: SweepSpec, root: str, name: str | None) -> tuple[SweepSpec, str]:
    """Check the sweep can run and write, then create its folder with sweep.yaml."""
    if name:
        spec = dataclasses.replace(spec, name=name)
    root = absolute(root)
    sweep_dir = f"{root}/{spec.name}" if is_uri(root) else os.path.join(root, spec.name)
    check_writable(root)  # first: a cluster job on an unwritable --root fails at once, in one line
    check_k_range(spec)
    store = Store(sweep_dir)
    if store.exists("sweep.yaml"):
        raise ConfigError(f"sweep folder {sweep_dir} already exists",
                          f"rtl-sweep resume {sweep_dir}, or pick another --name")
    store.write_text("sweep.yaml", yaml.safe_dump(spec_record(spec), sort_keys=False))
    return spec, sweep_dir


def check_writable(root: str) -> None:
    probe, rel = Store(root), f".write-probe-{uuid.uuid4().hex[:8]}"
    try:
        probe.write_text(rel, "")
        probe.delete(rel)
    except (ResultsError, OSError) as e:
        why = str(getattr(e, "problem", e)).split(": ", 1)[-1]  # the OS's reason, not the probe's name
        raise ConfigError(f"cannot write to --root {root} ({why})",
                          "pass a folder or bucket this node (every node, on a cluster) can write") from None


def spec_record(spec: SweepSpec) -> dict:
    raw = yaml.safe_load(Path(spec.path).read_text())
    raw.update(name=spec.name, samples=spec.samples, max_concurrent=spec.max_concurrent, seed=spec.seed,
               source=str(Path(spec.path).absolute()))
    return raw


def load_sweep(sweep_dir: str) -> SweepSpec:
    store = Store(sweep_dir)
    if not store.exists("sweep.yaml"):
        raise ResultsError(f"{sweep_dir} is not a sweep folder (no sweep.yaml)",
                           "pass the folder `rtl-sweep sweep` created, e.g. sweeps/default")
    raw = yaml.safe_load(store.read_bytes("sweep.yaml").decode())
    raw.pop("source", None)
    return parse_space(raw, f"{sweep_dir}/sweep.yaml")


def trial_rows(store: Store) -> list[dict]:
    """Every trial row the sweep has written."""
    out = []
    for rel in store.list("tables/trials", ".parquet"):
        out += store.read_table(rel).to_pylist()
    return out
