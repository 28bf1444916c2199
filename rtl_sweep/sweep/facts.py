"""K of a trial, from its data: for its placement group (one actor per ticket) and for validation.

    python -c "from rtl_sweep.config import RunConfig; from rtl_sweep.sweep.facts import k_of; print(k_of(RunConfig()))"
"""

from __future__ import annotations

import functools

from rtl_sweep.config import RunConfig
from rtl_sweep.errors import ConfigError
from rtl_sweep.sweep.space import SweepSpec


@functools.lru_cache(maxsize=64)
def dataset_facts(data_cfg) -> tuple[int, int, int, tuple]:
    """(training samples, classes, groups, class names) of a data config."""
    from rtl_sweep.data import load_dataset
    d = load_dataset(data_cfg, 0)
    groups = 0 if d.g_train is None else int(d.g_train.unique().numel())
    return len(d.y_train), d.num_classes, groups, tuple(d.class_names)


@functools.lru_cache(maxsize=64)
def task_k(task: str, data_cfg, part_cfg, seed: int) -> int:
    """K as the task's own routing table has it (an INR's regions may be fewer than partition.k)."""
    import torch
    from rtl_sweep.tasks import get_task
    cfg = RunConfig(task=task, seed=seed, data=data_cfg, partition=part_cfg)
    return get_task(task).load(cfg, torch.device("cpu"))[1].k


def k_of(cfg: RunConfig) -> int:
    if cfg.task != RunConfig().task:
        return task_k(cfg.task, cfg.data, cfg.partition, cfg.seed)
    p = cfg.partition
    n, classes, groups, names = dataset_facts(cfg.data)
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
    n, classes, groups, _ = dataset_facts(base.data)
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
