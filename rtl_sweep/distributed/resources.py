"""How many ticket actors a run gets and what each reserves: declared, never assumed.

    python -c "from rtl_sweep.distributed.resources import check_gpu_fraction; check_gpu_fraction(0.5)"

Defaults: one GPU per actor where the cluster has GPUs (a fraction when asked), else one CPU per
actor; as many actors as the cluster holds, at most one per prune-rewind loop. Inside a Tune
trial the actors go into the trial's placement group, bundle 1.. (bundle 0 is the coordinator).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import ray

from rtl_sweep.errors import ClusterError, ConfigError


def check_gpu_fraction(g: float | None) -> None:
    """0 means CPU only; a fraction must lie in (0, 1]; above one GPU only whole GPUs make sense."""
    if g is None or g == 0:
        return
    if g < 0 or (g > 1 and float(g) != int(g)):
        raise ConfigError(f"gpus per ticket {g:g} is outside (0, 1] (or a whole number of GPUs)",
                          "use e.g. 0.25 to share one GPU among four tickets, or 1")


@dataclass
class ActorPlan:
    count: int
    cpus: float
    gpus: float
    resources: dict = field(default_factory=dict)
    placement_group: object = None   # the Tune trial's placement group, if any

    def options(self, i: int) -> dict:
        opts = {"num_cpus": self.cpus, "num_gpus": self.gpus}
        if self.resources:
            opts["resources"] = dict(self.resources)
        if self.placement_group is not None:
            from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy
            opts["scheduling_strategy"] = PlacementGroupSchedulingStrategy(
                placement_group=self.placement_group, placement_group_bundle_index=i + 1)
        return opts


def plan_actors(n_loops: int, actors: int | None = None, cpus: float = 1.0, gpus: float | None = None,
                resources: dict | None = None) -> ActorPlan:
    check_gpu_fraction(gpus)
    if cpus < 0:
        raise ConfigError(f"cpus per ticket {cpus} is negative", "use e.g. 1 or 0.5")
    pg = ray.util.get_current_placement_group()
    if pg is not None:
        bundles = pg.bundle_specs[1:]
        if not bundles:
            raise ClusterError("the trial's placement group has no bundle for ticket actors",
                               "reserve [{coordinator}] + [{ticket}] * N bundles")
        b = bundles[0]
        return ActorPlan(len(bundles), b.get("CPU", 0.0), b.get("GPU", 0.0),
                         {k: v for k, v in b.items() if k not in ("CPU", "GPU", "memory")}, pg)
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    node_gpus = [n["Resources"].get("GPU", 0.0) for n in nodes]
    total_gpus, total_cpus = sum(node_gpus), sum(n["Resources"].get("CPU", 0.0) for n in nodes)
    if gpus is None:
        gpus = 1.0 if total_gpus > 0 else 0.0
    if gpus > 0 and gpus > max(node_gpus, default=0.0):
        raise ClusterError(f"{gpus:g} GPUs per ticket, but no node has that many "
                           f"(largest: {max(node_gpus, default=0.0):g})",
                           "lower --gpus-per-ticket or add GPU nodes")
    for key, amount in (resources or {}).items():
        have = max((n["Resources"].get(key, 0.0) for n in nodes), default=0.0)
        if amount > have:
            raise ClusterError(f"no node offers resource {key}={amount:g} (largest: {have:g})",
                               "declare it on a node (ray start --resources) or drop it")
    if actors is None:
        if gpus > 0:
            fit = int(sum(g // gpus for g in node_gpus)) if gpus <= 1 else int(total_gpus // gpus)
        else:
            fit = int(total_cpus // cpus) if cpus > 0 else n_loops
        for key, amount in (resources or {}).items():
            fit = min(fit, int(sum(n["Resources"].get(key, 0.0) // amount for n in nodes)))
        actors = max(1, min(n_loops, fit))
    return ActorPlan(actors, cpus, gpus, dict(resources or {}))
