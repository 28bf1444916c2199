"""Search-space files: YAML in Optuna's short form, validated against the run config's keys.

    python -c "from rtl_sweep.sweep.space import load_space; print(load_space('search_spaces/default.yaml'))"

A file holds the fixed keys (`base`), the searched keys (`space`), the objectives and their
directions, and sweep settings. Every key is checked against the config and a wrong one is named
with the nearest valid keys:

    name: default
    base: {prune.epochs: 2}                      # fixed run-config keys (dotted or nested)
    space:
      prune.fraction: {type: float, low: 0.2, high: 0.6}
      partition.k: {type: int, low: 2, high: 8}
      partition.method: {type: categorical, choices: [class, kmeans]}
    objectives: [{metric: balanced_accuracy, mode: max}, {metric: params_prunable, mode: min}]

An objective may name the routing it reads (`{metric: accuracy, mode: max, routing: learned}`;
default oracle); the trial then scores that routing too and reports `accuracy_learned`.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from rtl_sweep.config import RunConfig, all_keys, check_routes, nearest_keys, routes_of
from rtl_sweep.errors import ConfigError

# What a trial reports to Tune after each level (from the RTL row): the one list of reported
# metrics. Objectives must be among these; the trainable reports exactly these keys.
REPORTED_METRICS = {
    "level": "pruning level",
    "sparsity": "mean ticket sparsity",
    "union_sparsity": "sparsity of the union of masks",
    "balanced_accuracy": "RTL balanced accuracy (one-vs-rest, averaged over subsets)",
    "precision": "RTL precision", "recall": "RTL recall",
    "accuracy": "multi-class accuracy (multiclass protocol)",
    "psnr": "task=inr: PSNR (dB) of RTL's routed reconstruction", "ssim": "task=inr: its SSIM",
    "si_snri": "task=speech: SI-SNR improvement (dB) of RTL's routed outputs", "si_snr": "task=speech: their SI-SNR",
    "params_prunable": "kept prunable weights RTL stores (union of masks)",
    "params_total": "all weights RTL stores",
    "mean_jaccard": "mean mask Jaccard",
    "jaccard_chance": "mean Jaccard of independent random masks of the same densities",
    "signal": "the collapse detector's watched signal",
    "dead_tickets": "tickets whose predictions collapsed to one class",
    # Advantages on the task's main score (rtl_sweep/advantages.py); positive: RTL better.
    "advantage_single_equal": "RTL minus IMP single at equal total parameters (of the latest level "
                              "that has it: the baseline lags a level)",
    "advantage_level": "the level advantage_single_equal and score_single_equal belong to",
    "advantage_multiple": "RTL minus IMP multiple at equal sparsity",
    "params_ratio_multiple": "RTL's union of kept weights over IMP multiple's sum",
    "score_rtl": "RTL's main score at advantage_level",
    "score_single_equal": "the equal-parameter IMP single model's main score at advantage_level",
    "score_multiple": "IMP multiple's main score",
    "score_dense": "the dense model's main score (IMP single at level 0)",
    "baseline_failed": "1 when the equal-parameter model is more than 2 points (INR: 2 dB) below its dense model",
    "router_params": "weights the objective's routing stores beside RTL (0 for the oracle)",
    "router_agreement": "share of test inputs the routing sends to their own subset",
    "params_with_router": "params_total + router_params",
}
# The baseline each metric needs: a space that asks for one without it is refused.
NEEDS_BASELINE = {"advantage_single_equal": "imp_single_equal", "score_single_equal": "imp_single_equal",
                  "advantage_level": "imp_single_equal", "advantage_multiple": "imp_multiple",
                  "score_multiple": "imp_multiple", "params_ratio_multiple": "imp_multiple",
                  "score_dense": "imp_single", "baseline_failed": "imp_single"}
TOP_KEYS = {"name", "description", "base", "space", "objectives", "sampler", "seed", "samples",
            "max_concurrent", "stopper", "scheduler", "resources"}
SAMPLERS = ("tpe", "random", "nsga2")


@dataclass(frozen=True)
class Objective:
    metric: str
    mode: str  # max | min
    routing: str = "oracle"  # which routing's row the metric is read from (rtl_sweep/routing.py)
    at: str = "final"  # where a trial's value is read: final (target sparsity) | best | a sparsity

    @property
    def key(self) -> str:
        """The name Tune and Optuna know it by, and the trials column after `obj_`: the metric,
        suffixed by a routing other than the oracle, then by where it is read unless at the end."""
        base = self.metric if self.routing == "oracle" else f"{self.metric}_{self.routing}"
        return base if self.at == "final" else f"{base}_at_{self.at.replace('.', 'p')}"


@dataclass(frozen=True)
class Resources:
    coordinator_cpus: float = 0.5   # bundle 0: the trial's coordinator (joint retraining runs here)
    coordinator_gpus: float = 0.0   # ... and its GPU share; set it with ticket_gpus on GPU clusters
    ticket_cpus: float = 0.5        # each ticket actor's bundle
    ticket_gpus: float = 0.0        # a fraction of a GPU per ticket actor, or whole GPUs
    actors: int = 0                 # ticket actors per trial; 0 = one per ticket (the trial's K)


@dataclass(frozen=True)
class SweepSpec:
    name: str
    path: str
    base: dict = field(default_factory=dict)          # dotted key -> value
    space: dict = field(default_factory=dict)         # dotted key -> optuna distribution
    objectives: tuple = (Objective("balanced_accuracy", "max"),)
    sampler: str = "tpe"
    seed: int = 0
    samples: int = 8
    max_concurrent: int = 1
    stopper: dict = field(default_factory=lambda: {"collapse": True})
    scheduler: str = "none"                          # none | asha
    resources: Resources = Resources()
    description: str = ""
    groups: dict = field(default_factory=dict)       # grouped categorical: name -> {label: {key: value}}

    def base_config(self) -> RunConfig:
        return RunConfig().with_overrides(self.base)

    def trial_config(self, params: dict) -> RunConfig:
        cfg = RunConfig().with_overrides({**self.base, **self.expand(params)})
        # The routings the objectives read are scored too (routes are not part of the run's hash).
        extra = [r for r in self.routings if r not in routes_of(cfg)]
        return dataclasses.replace(cfg, routes=routes_of(cfg) + extra) if extra else cfg

    def expand(self, params: dict) -> dict:
        """Sampled values as config keys: a grouped choice becomes the keys of its group."""
        out = {}
        for k, v in params.items():
            out.update(self.groups[k][v] if k in self.groups else {k: v})
        return out

    @property
    def routings(self) -> list[str]:
        return list(dict.fromkeys(o.routing for o in self.objectives if o.routing != "oracle"))

    @property
    def metrics(self) -> list[str]:
        """The objectives' keys (metric, or metric_at_<where> for an objective not read at the end)."""
        return [o.key for o in self.objectives]

    @property
    def modes(self) -> list[str]:
        return [o.mode for o in self.objectives]


def _fail(path: str, problem: str, fix: str) -> ConfigError:
    return ConfigError(f"{path}: {problem}", fix)


def load_space(path: str | Path, overrides: dict | None = None) -> SweepSpec:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"search space {p} does not exist",
                          "pass a YAML file; the shipped ones are in the repository's search_spaces/ "
                          "folder: run from the clone's root or give its path")
    try:
        raw = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as e:
        raise _fail(str(p), f"not valid YAML ({e.__class__.__name__})", "fix the YAML syntax")
    if not isinstance(raw, dict):
        raise _fail(str(p), "must be a mapping", "see search_spaces/default.yaml")
    return parse_space(raw, str(p), overrides)


def parse_space(raw: dict, path: str = "<space>", overrides: dict | None = None) -> SweepSpec:
    unknown = set(raw) - TOP_KEYS
    if unknown:
        key = sorted(unknown)[0]
        near = difflib.get_close_matches(key, sorted(TOP_KEYS), n=3)
        raise _fail(path, f"unknown top-level key {key!r}",
                    f"did you mean {', '.join(near)}?" if near else f"use {', '.join(sorted(TOP_KEYS))}")
    base = absolute_paths(_flatten(raw.get("base") or {}, path, "base"))
    space_raw = raw.get("space") or {}
    if not isinstance(space_raw, dict) or not space_raw:
        raise _fail(path, "'space' must map config keys to distributions", "add at least one searched key")
    space, groups = {}, {}
    for key, spec in _flatten_space(space_raw).items():
        if _is_group(key, spec):
            groups[key] = _groups(key, spec, base, path)
            space[key] = _od().CategoricalDistribution(list(groups[key]))
        else:
            space[key] = to_distribution(key, spec, path)
    grouped = {k for g in groups.values() for choice in g.values() for k in choice}
    if grouped & set(space):
        raise _fail(path, f"{sorted(grouped & set(space))[0]!r} is both searched and set by a grouped choice",
                    "keep one")
    both = set(base) & set(space)
    if both:
        raise _fail(path, f"{sorted(both)[0]!r} is both fixed (base) and searched (space)", "keep one")
    objectives = tuple(_objective(o, path) for o in (raw.get("objectives") or
                                                      [{"metric": "balanced_accuracy", "mode": "max"}]))
    sampler = raw.get("sampler", "tpe")
    if sampler not in SAMPLERS:
        raise _fail(path, f"sampler {sampler!r} is unknown", f"use one of {', '.join(SAMPLERS)}")
    scheduler = raw.get("scheduler", "none")
    if scheduler not in ("none", "asha"):
        raise _fail(path, f"scheduler {scheduler!r} is unknown", "use none or asha")
    if scheduler == "asha" and len(objectives) > 1:
        raise _fail(path, "ASHA ranks trials by one metric", "use one objective with scheduler: asha")
    res_raw = raw.get("resources") or {}
    bad = set(res_raw) - {f.name for f in dataclasses.fields(Resources)}
    if bad:
        raise _fail(path, f"unknown resources key {sorted(bad)[0]!r}",
                    "use coordinator_cpus, coordinator_gpus, ticket_cpus, ticket_gpus, actors")
    resources = Resources(**{k: type(getattr(Resources(), k))(v) for k, v in res_raw.items()})
    spec = SweepSpec(name=str(raw.get("name") or Path(path).stem), path=path, base=base, space=space,
                     objectives=objectives, sampler=sampler, seed=int(raw.get("seed", 0)),
                     samples=int(raw.get("samples", 8)), max_concurrent=int(raw.get("max_concurrent", 1)),
                     stopper=dict(raw.get("stopper") or {"collapse": True}), scheduler=scheduler,
                     resources=resources, description=str(raw.get("description", "")), groups=groups)
    if overrides:
        spec = dataclasses.replace(spec, **{k: v for k, v in overrides.items() if v is not None})
    try:
        spec.base_config().validate()
    except ConfigError as e:
        raise _fail(path, f"base: {e.problem}", e.fix)
    protocol = space.get("protocol")
    for proto in (protocol.choices if protocol is not None else [spec.base_config().protocol]):
        try:
            check_routes(proto, spec.routings, what="objective routing")
        except ConfigError as e:
            raise _fail(path, e.problem, e.fix)
    _check_baselines(spec, path)
    return spec


def absolute_paths(keys: dict) -> dict:
    """A relative data.path from the directory the space is loaded in, absolute: Tune runs each
    trial in its own working directory, where a relative path names another file."""
    p = keys.get("data.path")
    if p and "://" not in str(p) and not Path(str(p)).is_absolute():
        keys = {**keys, "data.path": str(Path(str(p)).absolute())}
    return keys


def _od():
    import optuna.distributions as od
    return od


def _is_group(key: str, spec: Any) -> bool:
    """A categorical that is not a config key and whose choices are mappings of config keys."""
    return (key not in all_keys() and isinstance(spec, dict) and spec.get("type") == "categorical"
            and isinstance(spec.get("choices"), list) and bool(spec["choices"])
            and all(isinstance(c, dict) for c in spec["choices"]))


def _groups(key: str, spec: dict, base: dict, path: str) -> dict[str, dict]:
    """label -> the keys a grouped choice sets; each group with `base` must make a valid config, so a
    search never draws an invalid pair. The label is `label` if the choice gives one, else its values
    joined by '/'."""
    out = {}
    for choice in spec["choices"]:
        choice = dict(choice)
        label = str(choice.pop("label", "/".join(map(str, choice.values()))))
        flat = absolute_paths(_flatten(choice, path, f"space.{key}"))
        if not flat or label in out:
            raise _fail(path, f"grouped choice {label!r} of {key!r} is empty or repeated",
                        "give each choice its own keys (or its own `label`)")
        try:
            RunConfig().with_overrides({**base, **flat}).validate()
        except ConfigError as e:
            raise _fail(path, f"space key {key!r}: choice {label!r} is not allowed ({e.problem})", e.fix)
        out[label] = flat
    return out


def _values(spec: SweepSpec, key: str) -> list:
    """Every value config key `key` can take in a trial of `spec`."""
    if key in spec.space:
        return list(getattr(spec.space[key], "choices", []))
    base = spec.base_config()
    for part in key.split("."):
        base = getattr(base, part)
    return [base] + [c.get(key, base) for g in spec.groups.values() for c in g.values()]


def _check_baselines(spec: SweepSpec, path: str) -> None:
    """An objective on a baseline a trial may not run is refused."""
    for o in spec.objectives:
        need = NEEDS_BASELINE.get(o.metric)
        if need is None:
            continue
        for value in _values(spec, "baselines"):
            if need not in (value or []):
                raise _fail(path, f"objective {o.metric!r} needs the baseline {need}, which a trial may "
                                  f"not run (baselines: {value})", f"add {need} to baselines")


def _flatten(d: dict, path: str, where: str, prefix: str = "") -> dict:
    if not isinstance(d, dict):
        raise _fail(path, f"'{where}' must be a mapping of config keys", "write key: value lines")
    out = {}
    keys = all_keys()
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and key not in keys:
            out.update(_flatten(v, path, where, key + "."))
            continue
        _check_key(key, path, where)
        out[key] = v
    return out


def _flatten_space(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and "type" not in v:
            out.update(_flatten_space(v, key + "."))
        else:
            out[key] = v
    return out


def _check_key(key: str, path: str, where: str) -> None:
    if key not in all_keys():
        near = nearest_keys(key)
        raise _fail(path, f"unknown key {key!r} in '{where}'",
                    f"nearest valid keys: {', '.join(near)}" if near else "see docs/config_keys.md")


def to_distribution(key: str, spec: Any, path: str):
    """Optuna's short form -> an optuna distribution (the loader optuna's json_to_distribution does
    for its own JSON, with our checks and messages)."""
    import optuna.distributions as od
    _check_key(key, path, "space")
    if not isinstance(spec, dict) or "type" not in spec:
        raise _fail(path, f"space key {key!r} needs a mapping with 'type'",
                    "write {type: float, low: 0.1, high: 0.9} or {type: categorical, choices: [...]}")
    kind = spec["type"]
    allowed = {"float": {"type", "low", "high", "log", "step"}, "int": {"type", "low", "high", "log", "step"},
               "categorical": {"type", "choices"}}
    if kind not in allowed:
        raise _fail(path, f"space key {key!r} has type {kind!r}", "use float, int or categorical")
    extra = set(spec) - allowed[kind]
    if extra:
        raise _fail(path, f"space key {key!r}: unknown field {sorted(extra)[0]!r} for type {kind}",
                    f"use {', '.join(sorted(allowed[kind]))}")
    if kind == "categorical":
        choices = spec.get("choices")
        if not isinstance(choices, list) or not choices:
            raise _fail(path, f"space key {key!r} is categorical with no choices", "list at least one choice")
        for c in choices:  # each choice must make a valid config
            _validate_value(key, c, path)
        return od.CategoricalDistribution(choices)
    try:
        low, high = _num(spec.get("low"), kind), _num(spec.get("high"), kind)
    except (TypeError, ValueError):
        raise _fail(path, f"space key {key!r} needs numeric low and high",
                    "write e.g. low: 1.0e-4, high: 1.0e-2 (with a dot: YAML reads 1e-4 as text)")
    if low > high or (low == high and kind == "float" and not spec.get("step")):
        raise _fail(path, f"space key {key!r} has an {'empty' if low == high else 'inverted'} range "
                          f"[{low}, {high}]", "make low < high")
    log = bool(spec.get("log", False))
    if log and low <= 0:
        raise _fail(path, f"space key {key!r} is log-scaled but low={low} <= 0", "use a positive low")
    step = spec.get("step")
    _validate_value(key, low, path)
    _validate_value(key, high, path)
    if kind == "float":
        return od.FloatDistribution(low, high, log=log, step=float(step) if step else None)
    return od.IntDistribution(int(low), int(high), log=log, step=int(step or 1))


def _num(v: Any, kind: str):
    return int(v) if kind == "int" and not isinstance(v, float) else float(v)


def _validate_value(key: str, value: Any, path: str) -> None:
    try:
        RunConfig().with_overrides({key: value}).validate()
    except ConfigError as e:
        raise _fail(path, f"space key {key!r}: value {value!r} is not allowed ({e.problem})", e.fix)


def _objective(o: Any, path: str) -> Objective:
    if isinstance(o, str):
        o = {"metric": o, "mode": "max"}
    if not isinstance(o, dict) or "metric" not in o:
        raise _fail(path, f"objective {o!r} needs a metric", "write {metric: balanced_accuracy, mode: max}")
    bad = set(o) - {"metric", "mode", "routing", "at"}
    if bad:
        raise _fail(path, f"objective {o!r} has unknown field {sorted(bad)[0]!r}", "use metric, mode, routing and at")
    metric, mode, routing = o["metric"], o.get("mode", "max"), o.get("routing", "oracle")
    if metric not in REPORTED_METRICS:
        near = difflib.get_close_matches(str(metric), list(REPORTED_METRICS), n=3)
        raise _fail(path, f"objective {metric!r} is not a recorded metric",
                    f"nearest: {', '.join(near)}" if near else f"use one of {', '.join(REPORTED_METRICS)}")
    if mode not in ("max", "min"):
        raise _fail(path, f"objective {metric!r} has mode {mode!r}", "use max or min")
    at = o.get("at", "final")
    if at not in ("final", "best"):
        try:
            if not 0.0 <= float(at) < 1.0:
                raise ValueError
        except (TypeError, ValueError):
            raise _fail(path, f"objective {metric!r} has at: {at!r}",
                        "use final, best, or a sparsity in [0, 1) (the first level at or past it)")
        at = str(float(at))
    if routing != "oracle" and at != "final":
        raise _fail(path, f"objective {metric!r} reads routing {routing} at {at}",
                    "a routing's objective is read at the end: drop `at`, or use the oracle")
    return Objective(metric, mode, str(routing), at)
