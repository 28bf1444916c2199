"""Run configuration: frozen dataclasses per concern, YAML loading, --set overrides, the config hash.

    python -c "from rtl_sweep.config import RunConfig; print(RunConfig().hash())"

Every field carries its help text. Configs are frozen because they are pickled to many actors;
derive new ones with `dataclasses.replace` or `RunConfig.with_overrides`.
The hash leaves default-valued fields out, so adding a field with a default keeps old hashes
(the OpenLTH `desc` idea): a run folder stays findable across versions.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import warnings
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, get_type_hints

import yaml

from rtl_sweep.errors import ConfigError
from rtl_sweep.methods import BASELINES, METHODS


def _f(default: Any, help: str, **kw: Any) -> Any:
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata={"help": help}, **kw)
    return field(default=default, metadata={"help": help}, **kw)


@dataclass(frozen=True)
class DataConfig:
    name: str = _f("mnist5k", "mnist5k | digits | cifar10 | cifar100 | file | synthetic (timing only)")
    path: str = _f("", "for name=file: a .npz (X, y, optional group) or .parquet file")
    data_dir: str = _f("~/.cache/rtl_sweep/data", "where torchvision datasets live")
    download: bool = _f(False, "let torchvision download cifar10/cifar100 into data_dir")
    test_fraction: float = _f(0.2, "held-out share of each class (stratified split)")
    label_column: str = _f("label", "Parquet: the integer label column")
    group_column: str = _f("", "Parquet: the group (environment) column; empty for none")
    max_per_class: int = _f(0, "cap samples per class before splitting (0: no cap); for quick runs")
    official_split: bool = _f(False, "cifar10/cifar100: keep the official train/test split instead of "
                                     "pooling and re-splitting by test_fraction")
    synthetic_shape: str = _f("3,32,32", "for name=synthetic (timing only, scores meaningless): input shape")
    synthetic_classes: int = _f(10, "for name=synthetic: number of classes")
    synthetic_size: int = _f(60000, "for name=synthetic: number of samples (CIFAR-10's 60,000 by default)")
    # task=inr: one image is the whole dataset (its pixels are the train AND the test samples).
    image: str = _f("astronaut", "name=image: a scikit-image photograph (astronaut, chelsea, coffee, "
                                 "rocket, ...) or a path to a PNG/JPEG")
    side: int = _f(64, "name=image: downscale so the longer side has this many pixels (0: full "
                       "size); 64 fits a quick run")
    grey: bool = _f(False, "name=image: fit the grey image (one output) instead of RGB")
    region_map: str = _f("", "for partition.method=map: a PNG of integer region ids at the image's "
                             "aspect (ADE20K: 0 = unlabelled, left out of fitting and scoring)")


@dataclass(frozen=True)
class PartitionConfig:
    method: str = _f("class", "class | class_groups | kmeans | group: how samples are routed to tickets "
                              "(group: the data's group column, e.g. an environment); task=inr: "
                              "regions (SLIC + k-means, label-free) | map (data.region_map)")
    groups: str = _f("", "for method=class_groups: a named grouping (cifar100_paper) or 'a,b;c,d' lists")

    def __post_init__(self) -> None:
        # `groups` was this method's name until it was found one letter away from `group`.
        if self.method in PARTITION_ALIASES:
            object.__setattr__(self, "method", PARTITION_ALIASES[self.method])
    k: int = _f(0, "for method=kmeans: number of clusters (tickets); for regions: at most this many "
                   "regions (merging small ones may leave fewer)")
    embedding: str = _f("raw", "for kmeans: raw | pca | dense (features of the trained dense model)")
    pca_dim: int = _f(32, "for embedding=pca: components")
    min_size: int = _f(64, "for regions / map: a region under this many pixels is merged into the "
                           "neighbour it shares the longest border with (0: no merging)")


@dataclass(frozen=True)
class ModelConfig:
    name: str = _f("cnn", "mlp | cnn | ghostnet")
    width: int = _f(16, "base width (channels or hidden units); the models scale from it")
    # Options of the coordinate networks (siren, fourier_mlp); other models refuse non-defaults.
    depth: int = _f(3, "siren / fourier_mlp: hidden width x width layers after the first")
    omega_0: float = _f(30.0, "siren: frequency of every sine (the SIREN paper's 30)")
    features: int = _f(128, "fourier_mlp: random Fourier frequencies")
    sigma: float = _f(5.0, "fourier_mlp: standard deviation of the frequencies (coordinates in [-1, 1])")
    prune_first: bool = _f(False, "siren / fourier_mlp: the first layer's weights are prunable too")
    prune_last: bool = _f(False, "siren / fourier_mlp: the output layer's weights are prunable too")


@dataclass(frozen=True)
class PruneConfig:
    mode: str = _f("fraction", "fraction: remove a share of survivors per round | count: a fixed number")
    fraction: float = _f(0.5, "share of surviving prunable weights removed per round (0.5 halves density)")
    count: int = _f(4096, "weights removed per round when mode=count (the paper's vision appendix)")
    target_sparsity: float = _f(0.98, "stop once this share of prunable weights is pruned; in [0, 1)")
    ranking: str = _f("global", "global: one magnitude ranking over all layers | layerwise")
    rewind_step: int = _f(0, "0 rewinds to the init (the paper); >0: late rewinding to a shared "
                             "dense training step on all data")
    epochs: int = _f(5, "training epochs per pruning round for each ticket")
    lr: float = _f(1.0e-3, "Adam learning rate (ticket extraction)")
    batch_size: int = _f(64, "mini-batch size (positives + negatives in one-vs-rest)")
    vectorize: str = _f("off", "off | on | auto (on for CUDA): train every loop of a level fused, in "
                               "stacked vmapped passes (per-subset loops together, whole-data models together)")


@dataclass(frozen=True)
class JointConfig:
    epochs: int = _f(5, "joint-retraining epochs per pruning level (0 skips joint retraining)")
    lr: float = _f(1.0e-3, "Adam learning rate (joint retraining)")
    variant: str = _f("sequential", "sequential: the paper's step per ticket in turn | summed: one "
                                    "step with the K masked updates summed (a different algorithm)")
    compile: str = _f("off", "off | default | reduce-overhead: torch.compile the masked forward (and "
                             "so its backward) with this mode; reduce-overhead adds CUDA graphs on "
                             "CUDA. Off unless `rtl-sweep bench joint` measures it faster on your device")


@dataclass(frozen=True)
class SignalConfig:
    watch: str = _f("layer_relative", "layer_relative: mean over layers of log(J / chance) | "
                                      "global_relative: log(J / chance) over all weights | global: raw J")
    window: int = _f(2, "how many previous round-to-round changes define the recent trend")
    threshold: float = _f(0.5, "fire when a change departs from the trend by more than this "
                               "(log units for relative signals, Jaccard units for global)")
    dead_tickets: bool = _f(True, "also fire when a ticket that gave more than one answer over its "
                                  "test inputs now gives one answer to all of them (predictions "
                                  "only, no labels)")


@dataclass(frozen=True)
class RouterConfig:
    model: str = _f("auto", "the learned router's network: auto (cnn for images, mlp for flat "
                            "features) | mlp | cnn")
    width: int = _f(4, "its base width (small on purpose: cnn 4 and 8 channels, mlp 64 and 32 units)")
    epochs: int = _f(5, "its training epochs, on the training split only")
    lr: float = _f(1.0e-3, "its Adam learning rate")


LABEL_LEAK = ("protocol=multiclass with partition.method=class: the oracle routes each test input by "
              "its own label, so every oracle score is perfect by construction; read the routings "
              "that do not see the label (routes: centroid, learned, confidence), or route by groups, "
              "kmeans, pca or group")


EXPOSURES = ("passes", "final")  # RunConfig.exposure; rtl_sweep/methods.py applies it


@dataclass(frozen=True)
class RunConfig:
    name: str = _f("rtl", "a label for the run folder; not part of the hash")
    seed: int = _f(0, "one seed for init, data order and splits: same seed, same masks")
    task: str = _f("classification", "what the models learn (rtl_sweep/tasks): classification | inr "
                                     "(keys you leave unset take the task's defaults: TASK_DEFAULTS)")
    precision: str = _f("fp32", "fp32 | bf16: bf16 autocast of the forward passes (fp32 weights, Adam "
                                "state and losses); fp32 is the reference")
    memory_format: str = _f("contiguous", "contiguous | channels_last: conv models (cnn, ghostnet) run "
                                          "their per-model passes in NHWC, the layout tensor cores "
                                          "and oneDNN prefer; fused stacks stay contiguous (vmap)")
    exposure: str = _f("passes", "passes: every method sees the same data passes per level (the "
                                 "paper's rule: IMP trains prune.epochs + joint.epochs, RTL's tickets "
                                 "prune.epochs, then joint retraining joint.epochs from the rewind "
                                 "point) | final: every deployed model's final weights are trained "
                                 "prune.epochs + joint.epochs epochs from the rewind point (RTL's "
                                 "tickets and its joint retraining too)")
    protocol: str = _f("ovr", "ovr: each ticket a binary detector of its subset (the paper) | "
                              "multiclass: the routed ticket predicts the class")
    baselines: list = _f(["imp_single", "imp_multiple", "imp_single_equal"],
                         "which baselines to run beside RTL")
    routes: list = _f([], "routings scored from the same weights and masks (rtl_sweep/routing.py); "
                          "ovr: oracle, argmax; multiclass: oracle, centroid, learned, confidence, "
                          "entropy; "
                          "empty: the protocol's default (ovr: oracle, argmax; multiclass: oracle); "
                          "the oracle is always scored. Not part of the hash: adding one rescores a "
                          "finished run")
    data: DataConfig = field(default_factory=DataConfig)
    partition: PartitionConfig = field(default_factory=PartitionConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    prune: PruneConfig = field(default_factory=PruneConfig)
    joint: JointConfig = field(default_factory=JointConfig)
    signal: SignalConfig = field(default_factory=SignalConfig)
    router: RouterConfig = field(default_factory=RouterConfig)

    @property
    def oracle_is_the_label(self) -> bool:
        """multiclass over the class partition: allowed (the routings that do not see the label
        still measure something), but the oracle routes by the label itself (LABEL_LEAK)."""
        return self.task == "classification" and self.protocol == "multiclass" and self.partition.method == "class"

    # ---- identity -------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def hash(self) -> str:
        """Stable 12-hex name of what the run computes: non-default fields only, `name` and `routes`
        excluded (routes only change scoring: a rerun with more of them reuses the run folder)."""
        diff = _non_default(self, RunConfig())
        diff.pop("name", None)
        diff.pop("routes", None)
        part = diff.get("partition", {})
        if part.get("method") in HASHED_AS:  # hashes predate the rename: old run folders stay found
            part["method"] = HASHED_AS[part["method"]]
        blob = json.dumps(diff, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]

    def folder_name(self) -> str:
        return f"{self.name}-{self.hash()}"

    # ---- construction ---------------------------------------------------------------------
    @classmethod
    def from_dict(cls, d: dict | None, source: str = "config") -> "RunConfig":
        """Build from nested keys; a key `d` leaves out takes its task's default (TASK_DEFAULTS)."""
        return _build(cls, with_task_defaults(d or {}), source, prefix="")

    @classmethod
    def defaults(cls, task: str) -> "RunConfig":
        """The config of `task` with nothing else set."""
        return cls.from_dict({"task": task})

    @classmethod
    def load(cls, path: str | Path | None, overrides: list[str] | tuple = ()) -> "RunConfig":
        d: dict = {}
        if path:
            p = Path(path)
            if not p.exists():
                raise ConfigError(f"config file {p} does not exist",
                                  "pass an existing YAML file, or no file for the bundled default")
            try:
                d = yaml.safe_load(p.read_text()) or {}
            except yaml.YAMLError as e:
                raise ConfigError(f"{p} is not valid YAML ({e.__class__.__name__})",
                                  "fix the YAML syntax")
            if not isinstance(d, dict):
                raise ConfigError(f"{p} must hold a mapping of config keys", "see README, Config")
        cfg = cls.from_dict(d, source=str(path or "config"))  # the file's errors name the file
        if not overrides:
            return cfg
        # File and --set keys are merged before building, so every key given in either one is
        # kept and only keys given nowhere take the task's defaults.
        d = _given(d, cfg)
        for key, value in [_split_set(s) for s in overrides]:
            set_dotted(d, key, value, source="--set")
        return cls.from_dict(d, source="--set")

    def with_overrides(self, overrides: list[str] | tuple | dict) -> "RunConfig":
        """Apply `key.sub=value` strings (or a flat {dotted_key: value} dict); values parse as YAML.
        Keys this config holds at its task's defaults count as not given: an override that switches
        the task (task=inr) gives them the new task's defaults."""
        items = overrides.items() if isinstance(overrides, dict) else [_split_set(s) for s in overrides]
        d = _non_default(self, RunConfig.defaults(self.task))
        d["task"] = self.task
        for key, value in items:
            set_dotted(d, key, value, source="--set")
        return RunConfig.from_dict(d, source="--set")

    def validate(self) -> "RunConfig":
        # numpy, torch and scikit-learn (k-means, PCA: random_state < 2**32) all take this seed.
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed < 2**32:
            raise ConfigError(f"seed={self.seed!r} is not an integer in [0, 2**32)", "use e.g. seed=0")
        p = self.prune
        if not 0.0 <= p.target_sparsity < 1.0:
            raise ConfigError(f"prune.target_sparsity={p.target_sparsity} is outside [0, 1)",
                              "use a value such as 0.9 (90% of prunable weights removed)")
        if p.mode not in ("fraction", "count"):
            raise ConfigError(f"prune.mode={p.mode!r} is unknown", "use fraction or count")
        if p.mode == "fraction" and not 0.0 < p.fraction < 1.0:
            raise ConfigError(f"prune.fraction={p.fraction} is outside (0, 1)",
                              "use e.g. 0.2 to remove a fifth of the survivors per round")
        if p.mode == "count" and p.count <= 0:
            raise ConfigError(f"prune.count={p.count} must be positive", "use e.g. 4096")
        if p.ranking not in ("global", "layerwise"):
            raise ConfigError(f"prune.ranking={p.ranking!r} is unknown", "use global or layerwise")
        if p.epochs < 1 or p.batch_size < 2:
            raise ConfigError("prune.epochs must be >= 1 and prune.batch_size >= 2",
                              "raise them")
        if p.vectorize not in VECTORIZE:
            raise ConfigError(f"prune.vectorize={p.vectorize!r} is unknown", "use off, on or auto")
        if p.rewind_step < 0:
            raise ConfigError("prune.rewind_step must be >= 0", "use 0 for the init")
        if self.precision not in ("fp32", "bf16"):
            raise ConfigError(f"precision={self.precision!r} is unknown", "use fp32 or bf16")
        if self.memory_format not in ("contiguous", "channels_last"):
            raise ConfigError(f"memory_format={self.memory_format!r} is unknown",
                              "use contiguous or channels_last")
        if self.exposure not in EXPOSURES:
            raise ConfigError(f"exposure={self.exposure!r} is unknown", f"use {' or '.join(EXPOSURES)}")
        if self.protocol not in ("ovr", "multiclass"):
            raise ConfigError(f"protocol={self.protocol!r} is unknown", "use ovr or multiclass")
        if self.joint.variant not in ("sequential", "summed"):
            raise ConfigError(f"joint.variant={self.joint.variant!r} is unknown",
                              "use sequential or summed")
        if self.joint.compile not in ("off", "default", "reduce-overhead"):
            raise ConfigError(f"joint.compile={self.joint.compile!r} is unknown",
                              "use off, default or reduce-overhead")
        if self.joint.epochs < 0:
            raise ConfigError("joint.epochs must be >= 0", "use 0 to skip joint retraining")
        if self.signal.watch not in ("layer_relative", "global_relative", "global"):
            raise ConfigError(f"signal.watch={self.signal.watch!r} is unknown",
                              "use layer_relative, global_relative or global")
        if self.signal.window < 1 or self.signal.threshold <= 0:
            raise ConfigError("signal.window must be >= 1 and signal.threshold > 0", "raise them")
        # task=speech is a regression with one routing table, so its routings are its own set
        check_routes("speech" if self.task == "speech" else self.protocol, self.routes)
        r = self.router
        if r.model not in ROUTER_MODELS or r.width < 1 or r.epochs < 1 or r.lr <= 0:
            raise ConfigError(f"router settings model={r.model!r}, width={r.width}, epochs={r.epochs}, "
                              f"lr={r.lr} are not allowed",
                              f"use router.model in {', '.join(ROUTER_MODELS)}, width and epochs >= 1, lr > 0")
        unknown = set(self.baselines) - set(BASELINES)
        if unknown:
            raise ConfigError(f"unknown baselines {sorted(unknown)}",
                              f"choose from {list(BASELINES)}")
        for name in self.baselines:
            need = METHODS[name].requires
            if need and need not in self.baselines:
                raise ConfigError(f"baseline {name} needs {need}", f"add {need} to baselines")
        return self


VECTORIZE = ("off", "on", "auto")

# The defaults a task brings for the keys a config leaves unset (dotted key -> value). They are
# applied when the config is built, so config.yaml and the hash spell them out, and a task's
# default never changes what an existing run folder means. Classification uses the field defaults
# above. Why these values for INR: rtl_sweep/tasks/inr.py, module docstring.
TASK_DEFAULTS: dict[str, dict[str, Any]] = {
    "inr": {
        "data.name": "image",             # data.image (astronaut) at data.side (64): 4,096 pixels
        "partition.method": "regions",    # SLIC superpixels grouped by colour and position
        "partition.k": 4,
        "model.name": "siren",
        "model.width": 64,                # 3 x 64 x 64 = 12,288 prunable hidden weights
        "prune.lr": 3.0e-4,               # 1e-3 spikes on SIREN (measured); 3e-4 fits smoothly
        "joint.lr": 3.0e-4,
        "prune.batch_size": 512,          # pixels per step: an epoch of the image is 8 steps
        "prune.epochs": 60,
        "joint.epochs": 60,
        "prune.target_sparsity": 0.95,
    },
    # Why these values: rtl_sweep/tasks/speech.py and docs/speech.md.
    "speech": {
        "data.name": "speech",            # espeak-ng speech in simulated scenes, 80 clips per scene
        "data.test_fraction": 0.25,
        "partition.method": "scene",      # indoor, outdoor, transportation: K = 3
        "partition.k": 3,
        "model.name": "mask_net",
        "model.width": 16,                # 16*9 + 2*16*16*9 = 4,752 prunable conv weights
        "prune.batch_size": 16,
        "prune.epochs": 6,
        "joint.epochs": 6,
        "prune.target_sparsity": 0.9,
    },
}


def with_task_defaults(d: dict) -> dict:
    """A copy of nested config `d` with its task's defaults filled into the keys it leaves out."""
    import copy
    out = copy.deepcopy(d)
    for key, value in TASK_DEFAULTS.get(out.get("task", "classification"), {}).items():
        section, leaf = key.split(".")
        node = out.get(section)
        if node is None:
            node = out[section] = {}
        if isinstance(node, dict) and leaf not in node:  # a non-mapping section fails in _build
            node[leaf] = value
    return out


ROUTER_MODELS = ("auto", "mlp", "cnn")

# Routings per protocol (rtl_sweep/routing.py computes them), the default set, and why the others
# make no sense there. The oracle routes by the known subset id, as the paper does.
ROUTINGS = {"ovr": ("oracle", "argmax"),
            "multiclass": ("oracle", "centroid", "learned", "confidence", "entropy"),
            "speech": ("oracle", "learned")}
DEFAULT_ROUTES = {"ovr": ("oracle", "argmax"), "multiclass": ("oracle",)}
_NOT_UNDER = {  # protocol -> (why another routing makes no sense there, what to use)
    "ovr": ("each routed ticket is a binary detector of its subset and cannot name a class",
            "use argmax, where every ticket reads its own output and the largest wins; or protocol=multiclass"),
    "multiclass": ("argmax reads ticket k's output k, which is class k's logit, not a subset score",
                   "use confidence, centroid or learned"),
    "speech": ("an enhanced waveform carries no subset score to compare across tickets",
               "use learned (a router trained on the noisy inputs' scenes)"),
}


def routes_of(cfg: "RunConfig") -> list[str]:
    """The routings a run scores: the oracle first, then `routes` (or the protocol's default; the
    routings are classification's: another task, e.g. INR, routes by its oracle alone)."""
    out = ["oracle"]
    default = DEFAULT_ROUTES.get(cfg.protocol, ()) if cfg.task == "classification" else ()
    for r in cfg.routes or default:
        if r not in out:
            out.append(r)
    return out


def check_routes(protocol: str, routes: list | tuple, what: str = "routes") -> None:
    """Refuse, in one line, a routing that does not exist or makes no sense for `protocol`."""
    every = sorted({r for names in ROUTINGS.values() for r in names})
    for r in routes:
        if r not in every:
            raise ConfigError(f"{what}: {r!r} is not a routing", f"use one of {', '.join(every)}")
        if protocol in ROUTINGS and r not in ROUTINGS[protocol]:
            why, fix = _NOT_UNDER[protocol]
            raise ConfigError(f"{what}: {r} makes no sense for protocol={protocol}: {why}", fix)


PARTITION_ALIASES = {"groups": "class_groups"}   # old spelling -> name
HASHED_AS = {v: k for k, v in PARTITION_ALIASES.items()}


# ---- helpers ------------------------------------------------------------------------------
def _non_default(obj: Any, default: Any) -> dict:
    out = {}
    for f in fields(obj):
        v, dv = getattr(obj, f.name), getattr(default, f.name)
        if dataclasses.is_dataclass(v):
            sub = _non_default(v, dv)
            if sub:
                out[f.name] = sub
        elif v != dv:
            out[f.name] = list(v) if isinstance(v, tuple) else v
    return out


def _given(d: dict, built: Any) -> dict:
    """The keys of nested dict `d` with the values `built` from it (coerced: no second warning)."""
    out = {}
    for key, value in d.items():
        got = getattr(built, key)
        if dataclasses.is_dataclass(got):
            out[key] = _given(value, got) if isinstance(value, dict) else dataclasses.asdict(got)
        else:
            out[key] = got
    return out


def all_keys(cls: type = RunConfig, prefix: str = "") -> dict[str, Any]:
    """Every dotted config key with its dataclass field (the search-space loader validates on it)."""
    hints = get_type_hints(cls)
    out: dict[str, Any] = {}
    for f in fields(cls):
        t = hints[f.name]
        if dataclasses.is_dataclass(t):
            out.update(all_keys(t, prefix + f.name + "."))
        else:
            out[prefix + f.name] = f
    return out


def nearest_keys(key: str, n: int = 3) -> list[str]:
    return difflib.get_close_matches(key, list(all_keys()), n=n, cutoff=0.4)


def _build(cls: type, d: dict, source: str, prefix: str) -> Any:
    hints = get_type_hints(cls)
    names = {f.name for f in fields(cls)}
    kwargs = {}
    for key, value in d.items():
        dotted = prefix + str(key)
        if key not in names:
            near = nearest_keys(dotted)
            hint = f"did you mean {', '.join(near)}?" if near else "see README, Config keys"
            raise ConfigError(f"{source}: unknown config key {dotted!r}", hint)
        t = hints[key]
        if dataclasses.is_dataclass(t):
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: {dotted!r} must be a mapping of sub-keys",
                                  f"write e.g. {dotted}: {{...}}")
            kwargs[key] = _build(t, value, source, dotted + ".")
        else:
            kwargs[key] = _coerce(value, t, dotted, source)
    return cls(**kwargs)


def _coerce(value: Any, t: Any, key: str, source: str) -> Any:
    t = {"int": int, "float": float, "str": str, "bool": bool, "list": list}.get(t, t) \
        if isinstance(t, str) else t
    if t is float and isinstance(value, str):
        try:  # YAML reads 1e-4 as a string; accept it rather than fail on a common spelling
            out = float(value)
        except ValueError:
            pass
        else:
            warnings.warn(f"{source}: {key}={value!r} read as text by YAML; using {out} "
                          "(write 1.0e-4 to silence this)", stacklevel=2)
            return out
    if t is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if t is list and isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if t is list and isinstance(value, tuple):
        return list(value)
    if not isinstance(value, t) or (t is int and isinstance(value, bool)):
        raise ConfigError(f"{source}: {key}={value!r} should be {t.__name__}",
                          f"give {key} a {t.__name__} value")
    return value


def _split_set(s: str) -> tuple[str, Any]:
    if "=" not in s:
        raise ConfigError(f"--set {s!r} has no '='", "write --set key.sub=value")
    key, raw = s.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    # A str field keeps the text as typed: YAML would read `name=2024` as an int (`yes` as a bool,
    # `null` as None) and the type check would then reject a perfectly good string.
    f = all_keys().get(key.strip())
    if f is not None and f.type in (str, "str") and not isinstance(value, str):
        value = raw.strip()
    return key.strip(), value


def set_dotted(d: dict, key: str, value: Any, source: str = "config") -> None:
    """Set a leaf key (`prune.fraction`) or a whole section (`prune`) in nested dict `d`, creating
    the section if `d` lacks it."""
    keys = all_keys()
    sections = {k.split(".")[0] for k in keys if "." in k}
    if key not in keys and key not in sections:
        near = nearest_keys(key)
        raise ConfigError(f"{source}: unknown config key {key!r}",
                          f"did you mean {', '.join(near)}?" if near else "see README")
    parts = key.split(".")
    node = d
    for part in parts[:-1]:
        if node.get(part) is None:
            node[part] = {}
        if not isinstance(node[part], dict):
            raise ConfigError(f"{source}: {part!r} must be a mapping of sub-keys",
                              f"write e.g. {part}: {{...}}")
        node = node[part]
    node[parts[-1]] = value


def dump_yaml(cfg: RunConfig) -> str:
    return yaml.safe_dump(cfg.to_dict(), sort_keys=False)


def keys_markdown() -> str:
    """The config keys table of the README: `python -m rtl_sweep.config`."""
    lines = ["| key | default | meaning |", "| --- | --- | --- |"]
    defaults = flat_defaults()
    for key, f in all_keys().items():
        lines.append(f"| `{key}` | `{defaults[key]}` | {f.metadata.get('help', '').replace('|', '/')} |")
    return "\n".join(lines)


def flat_defaults() -> dict[str, Any]:
    out: dict[str, Any] = {}

    def walk(d: dict, prefix: str) -> None:
        for k, v in d.items():
            if isinstance(v, dict):
                walk(v, prefix + k + ".")
            else:
                out[prefix + k] = v
    walk(RunConfig().to_dict(), "")
    return out


if __name__ == "__main__":
    print(keys_markdown())
