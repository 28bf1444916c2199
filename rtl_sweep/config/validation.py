"""The checks a run config must pass before anything runs: one clear line per bad value.

    python -c "from rtl_sweep.config import RunConfig; RunConfig().validate(); print('ok')"

`RunConfig.validate` calls `validate` here; a value the types allow but the method does not (a
sparsity past 1, an unknown mode, a baseline without the one it needs) is refused with its fix.
"""

from __future__ import annotations

from typing import Any

from rtl_sweep.config.routes import check_routes
from rtl_sweep.errors import ConfigError
from rtl_sweep.methods import BASELINES, METHODS

EXPOSURES = ("passes", "final")  # RunConfig.exposure; rtl_sweep/methods.py applies it
VECTORIZE = ("off", "on", "auto")
ROUTER_MODELS = ("auto", "mlp", "cnn")

LABEL_LEAK = ("protocol=multiclass with partition.method=class: the oracle routes each test input by "
              "its own label, so every oracle score is perfect by construction; read the routings "
              "that do not see the label (routes: centroid, learned, confidence), or route by groups, "
              "kmeans, pca or group")


def validate(cfg: Any) -> None:
    """Refuse the first value of run config `cfg` the method cannot run with."""
    # numpy, torch and scikit-learn (k-means, PCA: random_state < 2**32) all take this seed.
    if isinstance(cfg.seed, bool) or not isinstance(cfg.seed, int) or not 0 <= cfg.seed < 2**32:
        raise ConfigError(f"seed={cfg.seed!r} is not an integer in [0, 2**32)", "use e.g. seed=0")
    p = cfg.prune
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
    if cfg.precision not in ("fp32", "bf16"):
        raise ConfigError(f"precision={cfg.precision!r} is unknown", "use fp32 or bf16")
    if cfg.memory_format not in ("contiguous", "channels_last"):
        raise ConfigError(f"memory_format={cfg.memory_format!r} is unknown",
                          "use contiguous or channels_last")
    if cfg.exposure not in EXPOSURES:
        raise ConfigError(f"exposure={cfg.exposure!r} is unknown", f"use {' or '.join(EXPOSURES)}")
    if cfg.protocol not in ("ovr", "multiclass"):
        raise ConfigError(f"protocol={cfg.protocol!r} is unknown", "use ovr or multiclass")
    if cfg.joint.variant not in ("sequential", "summed"):
        raise ConfigError(f"joint.variant={cfg.joint.variant!r} is unknown",
                          "use sequential or summed")
    if cfg.joint.compile not in ("off", "default", "reduce-overhead"):
        raise ConfigError(f"joint.compile={cfg.joint.compile!r} is unknown",
                          "use off, default or reduce-overhead")
    if cfg.joint.epochs < 0:
        raise ConfigError("joint.epochs must be >= 0", "use 0 to skip joint retraining")
    if cfg.signal.watch not in ("layer_relative", "global_relative", "global"):
        raise ConfigError(f"signal.watch={cfg.signal.watch!r} is unknown",
                          "use layer_relative, global_relative or global")
    if cfg.signal.window < 1 or cfg.signal.threshold <= 0:
        raise ConfigError("signal.window must be >= 1 and signal.threshold > 0", "raise them")
    # task=speech is a regression with one routing table, so its routings are its own set
    check_routes("speech" if cfg.task == "speech" else cfg.protocol, cfg.routes)
    r = cfg.router
    if r.model not in ROUTER_MODELS or r.width < 1 or r.epochs < 1 or r.lr <= 0:
        raise ConfigError(f"router settings model={r.model!r}, width={r.width}, epochs={r.epochs}, "
                          f"lr={r.lr} are not allowed",
                          f"use router.model in {', '.join(ROUTER_MODELS)}, width and epochs >= 1, lr > 0")
    unknown = set(cfg.baselines) - set(BASELINES)
    if unknown:
        raise ConfigError(f"unknown baselines {sorted(unknown)}",
                          f"choose from {list(BASELINES)}")
    for name in cfg.baselines:
        need = METHODS[name].requires
        if need and need not in cfg.baselines:
            raise ConfigError(f"baseline {name} needs {need}", f"add {need} to baselines")
