"""The run config: one section of each concern (config/sections.py) plus the run's own keys.

    python -c "from rtl_sweep.config import RunConfig; print(RunConfig().hash())"

Configs are frozen because they are pickled to many actors; derive new ones with
`dataclasses.replace` or `RunConfig.with_overrides`. The methods below are the config's whole
interface; each hands its work to the module of its concern (loading, hashing, validation).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from rtl_sweep.config import loading
from rtl_sweep.config.hashing import run_hash
from rtl_sweep.config.sections import (DataConfig, JointConfig, ModelConfig, PartitionConfig, PruneConfig,
                                       RouterConfig, SignalConfig, option)
from rtl_sweep.config.task_defaults import with_task_defaults
from rtl_sweep.config.validation import validate


@dataclass(frozen=True)
class RunConfig:
    name: str = option("rtl", "a label for the run folder; not part of the hash")
    seed: int = option(0, "one seed for init, data order and splits: same seed, same masks")
    task: str = option("classification", "what the models learn (rtl_sweep/tasks): classification | inr "
                                         "(keys you leave unset take the task's defaults: TASK_DEFAULTS)")
    precision: str = option("fp32", "fp32 | bf16: bf16 autocast of the forward passes (fp32 weights, Adam "
                                    "state and losses); fp32 is the reference")
    memory_format: str = option("contiguous", "contiguous | channels_last: conv models (cnn, ghostnet) run "
                                              "their per-model passes in NHWC, the layout tensor cores "
                                              "and oneDNN prefer; fused stacks stay contiguous (vmap)")
    exposure: str = option("passes", "passes: every method sees the same data passes per level (the "
                                     "paper's rule: IMP trains prune.epochs + joint.epochs, RTL's tickets "
                                     "prune.epochs, then joint retraining joint.epochs from the rewind "
                                     "point) | final: every deployed model's final weights are trained "
                                     "prune.epochs + joint.epochs epochs from the rewind point (RTL's "
                                     "tickets and its joint retraining too)")
    protocol: str = option("ovr", "ovr: each ticket a binary detector of its subset (the paper) | "
                                  "multiclass: the routed ticket predicts the class")
    baselines: list = option(["imp_single", "imp_multiple", "imp_single_equal"],
                             "which baselines to run beside RTL")
    routes: list = option([], "routings scored from the same weights and masks (rtl_sweep/routing.py); "
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
        return (self.task == "classification" and self.protocol == "multiclass"
                and self.partition.method == "class")

    # ---- identity -------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def hash(self) -> str:
        """Stable 12-hex name of what the run computes: non-default fields only, `name` and `routes`
        excluded (routes only change scoring: a rerun with more of them reuses the run folder)."""
        return run_hash(self)

    def folder_name(self) -> str:
        return f"{self.name}-{self.hash()}"

    # ---- construction ---------------------------------------------------------------------
    @classmethod
    def from_dict(cls, d: dict | None, source: str = "config") -> "RunConfig":
        """Build from nested keys; a key `d` leaves out takes its task's default (TASK_DEFAULTS)."""
        return loading.build(cls, with_task_defaults(d or {}), source)

    @classmethod
    def defaults(cls, task: str) -> "RunConfig":
        """The config of `task` with nothing else set."""
        return cls.from_dict({"task": task})

    @classmethod
    def load(cls, path: str | Path | None, overrides: list[str] | tuple = ()) -> "RunConfig":
        """From YAML file `path` (none: the defaults), then the `--set key.sub=value` strings."""
        return loading.load(cls, path, overrides)

    def with_overrides(self, overrides: list[str] | tuple | dict) -> "RunConfig":
        """Apply `key.sub=value` strings (or a flat {dotted_key: value} dict); values parse as YAML.
        Keys this config holds at its task's defaults count as not given: an override that switches
        the task (task=inr) gives them the new task's defaults."""
        return loading.overridden(self, overrides)

    def validate(self) -> "RunConfig":
        """This config, or one clear error naming the first value the method cannot run with."""
        validate(self)
        return self
