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
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from rtl_sweep.config import RunConfig, all_keys, nearest_keys
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
    "params_prunable": "kept prunable weights RTL stores (union of masks)",
    "params_total": "all weights RTL stores",
    "mean_jaccard": "mean mask Jaccard",
    "jaccard_chance": "mean Jaccard of independent random masks of the same densities",
    "signal": "the collapse detector's watched signal",
    "dead_tickets": "tickets whose predictions collapsed to one class",
}
TOP_KEYS = {"name", "description", "base", "space", "objectives", "sampler", "seed", "samples",
            "max_concurrent", "stopper", "scheduler", "resources"}
SAMPLERS = ("tpe", "random", "nsga2")


@dataclass(frozen=True)
class Objective:
    metric: str
    mode: str  # max | min


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

    def base_config(self) -> RunConfig:
        return RunConfig().with_overrides(self.base)

    def trial_config(self, params: dict) -> RunConfig:
        return RunConfig().with_overrides({**self.base, **params})

    @property
    def metrics(self) -> list[str]:
        return [o.metric for o in self.objectives]

    @property
    def modes(self) -> list[str]:
        return [o.mode for o in self.objectives]


def _fail(path: str, problem: str, fix: str) -> ConfigError:
    return ConfigError(f"{path}: {problem}", fix)


def load_space(path: str | Path, overrides: dict | None = None) -> SweepSpec:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"search space {p} does not exist", "pass a YAML file, e.g. search_spaces/default.yaml")
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
    base = _flatten(raw.get("base") or {}, path, "base")
    space_raw = raw.get("space") or {}
    if not isinstance(space_raw, dict) or not space_raw:
        raise _fail(path, "'space' must map config keys to distributions", "add at least one searched key")
    space = {key: to_distribution(key, spec, path) for key, spec in _flatten_space(space_raw).items()}
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
                     resources=resources, description=str(raw.get("description", "")))
    if overrides:
        spec = dataclasses.replace(spec, **{k: v for k, v in overrides.items() if v is not None})
    try:
        spec.base_config().validate()
    except ConfigError as e:
        raise _fail(path, f"base: {e.problem}", e.fix)
    return spec


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
                    f"nearest valid keys: {', '.join(near)}" if near else "see README, Config keys")


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
    metric, mode = o["metric"], o.get("mode", "max")
    if metric not in REPORTED_METRICS:
        near = difflib.get_close_matches(str(metric), list(REPORTED_METRICS), n=3)
        raise _fail(path, f"objective {metric!r} is not a recorded metric",
                    f"nearest: {', '.join(near)}" if near else f"use one of {', '.join(REPORTED_METRICS)}")
    if mode not in ("max", "min"):
        raise _fail(path, f"objective {metric!r} has mode {mode!r}", "use max or min")
    return Objective(metric, mode)
