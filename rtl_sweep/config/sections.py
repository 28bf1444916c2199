"""The config's sections: one frozen dataclass per concern, every field with its help text.

    python -c "from rtl_sweep.config.sections import PruneConfig; print(PruneConfig())"

`option` gives a field its default and help; the keys table (`python -m rtl_sweep.config`) prints
the help. RunConfig (config/run.py) holds one of each section.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PARTITION_ALIASES = {"groups": "class_groups"}   # old spelling -> name


def option(default: Any, help: str, **kw: Any) -> Any:
    """A dataclass field with its help text (a list or dict default is copied for each instance)."""
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata={"help": help}, **kw)
    return field(default=default, metadata={"help": help}, **kw)


@dataclass(frozen=True)
class DataConfig:
    name: str = option("mnist5k", "mnist5k | digits | cifar10 | cifar100 | file | synthetic (timing only)")
    path: str = option("", "for name=file: a .npz (X, y, optional group) or .parquet file")
    data_dir: str = option("~/.cache/rtl_sweep/data", "where torchvision datasets live")
    download: bool = option(False, "let torchvision download cifar10/cifar100 into data_dir")
    test_fraction: float = option(0.2, "held-out share of each class (stratified split)")
    label_column: str = option("label", "Parquet: the integer label column")
    group_column: str = option("", "Parquet: the group (environment) column; empty for none")
    max_per_class: int = option(0, "cap samples per class before splitting (0: no cap); for quick runs")
    official_split: bool = option(False, "cifar10/cifar100: keep the official train/test split instead of "
                                         "pooling and re-splitting by test_fraction")
    synthetic_shape: str = option("3,32,32", "for name=synthetic (timing only, scores meaningless): "
                                             "input shape")
    synthetic_classes: int = option(10, "for name=synthetic: number of classes")
    synthetic_size: int = option(60000, "for name=synthetic: number of samples (CIFAR-10's 60,000 by "
                                        "default)")
    # task=inr: one image is the whole dataset (its pixels are the train AND the test samples).
    image: str = option("astronaut", "name=image: a scikit-image photograph (astronaut, chelsea, coffee, "
                                     "rocket, ...) or a path to a PNG/JPEG")
    side: int = option(64, "name=image: downscale so the longer side has this many pixels (0: full "
                           "size); 64 fits a quick run")
    grey: bool = option(False, "name=image: fit the grey image (one output) instead of RGB")
    region_map: str = option("", "for partition.method=map: a PNG of integer region ids at the image's "
                                 "aspect (ADE20K: 0 = unlabelled, left out of fitting and scoring)")


@dataclass(frozen=True)
class PartitionConfig:
    method: str = option("class", "class | class_groups | kmeans | group: how samples are routed to tickets "
                                  "(group: the data's group column, e.g. an environment); task=inr: "
                                  "regions (SLIC + k-means, label-free) | map (data.region_map)")
    groups: str = option("", "for method=class_groups: a named grouping (cifar100_paper) or 'a,b;c,d' lists")
    k: int = option(0, "for method=kmeans: number of clusters (tickets); for regions: at most this many "
                       "regions (merging small ones may leave fewer)")
    embedding: str = option("raw", "for kmeans: raw | pca | dense (features of the trained dense model)")
    pca_dim: int = option(32, "for embedding=pca: components")
    min_size: int = option(64, "for regions / map: a region under this many pixels is merged into the "
                               "neighbour it shares the longest border with (0: no merging)")

    def __post_init__(self) -> None:
        # `groups` was this method's name until it was found one letter away from `group`.
        if self.method in PARTITION_ALIASES:
            object.__setattr__(self, "method", PARTITION_ALIASES[self.method])


@dataclass(frozen=True)
class ModelConfig:
    name: str = option("cnn", "mlp | cnn | ghostnet")
    width: int = option(16, "base width (channels or hidden units); the models scale from it")
    # Options of the coordinate networks (siren, fourier_mlp); other models refuse non-defaults.
    depth: int = option(3, "siren / fourier_mlp: hidden width x width layers after the first")
    omega_0: float = option(30.0, "siren: frequency of every sine (the SIREN paper's 30)")
    features: int = option(128, "fourier_mlp: random Fourier frequencies")
    sigma: float = option(5.0, "fourier_mlp: standard deviation of the frequencies (coordinates in [-1, 1])")
    prune_first: bool = option(False, "siren / fourier_mlp: the first layer's weights are prunable too")
    prune_last: bool = option(False, "siren / fourier_mlp: the output layer's weights are prunable too")


@dataclass(frozen=True)
class PruneConfig:
    mode: str = option("fraction", "fraction: remove a share of survivors per round | count: a fixed number")
    fraction: float = option(0.5, "share of surviving prunable weights removed per round (0.5 halves "
                                  "density)")
    count: int = option(4096, "weights removed per round when mode=count (the paper's vision appendix)")
    target_sparsity: float = option(0.98, "stop once this share of prunable weights is pruned; in [0, 1)")
    ranking: str = option("global", "global: one magnitude ranking over all layers | layerwise")
    rewind_step: int = option(0, "0 rewinds to the init (the paper); >0: late rewinding to a shared "
                                 "dense training step on all data")
    epochs: int = option(5, "training epochs per pruning round for each ticket")
    lr: float = option(1.0e-3, "Adam learning rate (ticket extraction)")
    batch_size: int = option(64, "mini-batch size (positives + negatives in one-vs-rest)")
    vectorize: str = option("off", "off | on | auto (on for CUDA): train every loop of a level fused, in "
                                   "stacked vmapped passes (per-subset loops together, whole-data "
                                   "models together)")


@dataclass(frozen=True)
class JointConfig:
    epochs: int = option(5, "joint-retraining epochs per pruning level (0 skips joint retraining)")
    lr: float = option(1.0e-3, "Adam learning rate (joint retraining)")
    variant: str = option("sequential", "sequential: the paper's step per ticket in turn | summed: one "
                                        "step with the K masked updates summed (a different algorithm)")
    compile: str = option("off", "off | default | reduce-overhead: torch.compile the masked forward (and "
                                 "so its backward) with this mode; reduce-overhead adds CUDA graphs on "
                                 "CUDA. Off unless `rtl-sweep bench joint` measures it faster on your device")


@dataclass(frozen=True)
class SignalConfig:
    watch: str = option("layer_relative", "layer_relative: mean over layers of log(J / chance) | "
                                          "global_relative: log(J / chance) over all weights | global: raw J")
    window: int = option(2, "how many previous round-to-round changes define the recent trend")
    threshold: float = option(0.5, "fire when a change departs from the trend by more than this "
                                   "(log units for relative signals, Jaccard units for global)")
    dead_tickets: bool = option(True, "also fire when a ticket that gave more than one answer over its "
                                      "test inputs now gives one answer to all of them (predictions "
                                      "only, no labels)")


@dataclass(frozen=True)
class RouterConfig:
    model: str = option("auto", "the learned router's network: auto (cnn for images, mlp for flat "
                                "features) | mlp | cnn")
    width: int = option(4, "its base width (small on purpose: cnn 4 and 8 channels, mlp 64 and 32 units)")
    epochs: int = option(5, "its training epochs, on the training split only")
    lr: float = option(1.0e-3, "its Adam learning rate")
