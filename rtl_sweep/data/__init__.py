"""Datasets: one loader per source, then one shared path (cap, stratified split, standardise).

    python -c "from rtl_sweep.config import DataConfig; from rtl_sweep.data import load_dataset; \
d = load_dataset(DataConfig(), seed=0); print(d.name, d.x_train.shape, d.x_test.shape)"

A loader in DATASETS turns a DataConfig into a `Source` (data/source.py: raw arrays, labels as
found); `load_dataset` does the rest, so every source gets the same labels, caps, split and scaling.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from rtl_sweep.config import DataConfig
from rtl_sweep.data.source import Source
from rtl_sweep.data.split import cap_per_class, source_split, stratified_split
from rtl_sweep.errors import DataError


@dataclass
class Dataset:
    name: str
    x_train: torch.Tensor   # float32 [N, *input_shape], standardised with train statistics
    y_train: torch.Tensor   # int64 labels 0..C-1 (task=inr: float colours [N, C], tasks/inr.py)
    x_test: torch.Tensor
    y_test: torch.Tensor
    g_train: torch.Tensor | None   # int64 group id 0..G-1 per sample (user files), else None
    g_test: torch.Tensor | None
    num_classes: int
    input_shape: tuple[int, ...]
    class_names: list[str]
    group_names: list[str] | None = None  # the original group values, indexed by group id
    scaling: tuple | None = None     # (pixel_max or None, mean, std): how inputs were standardised
    test_rows: np.ndarray | None = None   # row of each test sample in the source file / arrays

    def prepare(self, x: np.ndarray) -> torch.Tensor:
        """Raw inputs (as a source holds them) standardised exactly as this dataset's were."""
        pixel_max, mean, std = self.scaling
        x = np.asarray(x).astype(np.float32)
        if pixel_max is not None:
            x /= pixel_max
        return torch.from_numpy(np.ascontiguousarray((x - mean) / std))


def _mnist5k(cfg: DataConfig) -> Source:
    from rtl_sweep.data.bundled import load_mnist5k
    return load_mnist5k()


def _digits(cfg: DataConfig) -> Source:
    from rtl_sweep.data.bundled import load_digits
    return load_digits()


def _cifar10(cfg: DataConfig) -> Source:
    from rtl_sweep.data.torchvision_sets import load_cifar
    return load_cifar("cifar10", cfg)


def _cifar100(cfg: DataConfig) -> Source:
    from rtl_sweep.data.torchvision_sets import load_cifar
    return load_cifar("cifar100", cfg)


def _synthetic(cfg: DataConfig) -> Source:
    from rtl_sweep.data.synthetic import load_synthetic
    return load_synthetic(cfg)


def _file(cfg: DataConfig) -> Source:
    from rtl_sweep.data.user_file import load_user_file
    return load_user_file(cfg)


# Loaders import their module on first use: torchvision and pyarrow cost seconds to import.
DATASETS: dict[str, Callable[[DataConfig], Source]] = {
    "mnist5k": _mnist5k,
    "digits": _digits,
    "cifar10": _cifar10,
    "cifar100": _cifar100,
    "file": _file,
    "synthetic": _synthetic,   # timing only: named explicitly, labelled in every table
}


def load_dataset(cfg: DataConfig, seed: int) -> Dataset:
    """Load `cfg.name`, cap each class at cfg.max_per_class, split stratified by label (and group),
    standardise with train statistics. The same cfg and seed give identical tensors."""
    if cfg.name not in DATASETS:
        raise DataError(f"unknown dataset data.name={cfg.name!r}",
                        "one image is the INR task's data: add task=inr" if cfg.name == "image"
                        else f"choose one of {', '.join(DATASETS)}")
    if not 0.0 < cfg.test_fraction < 1.0:
        raise DataError(f"data.test_fraction={cfg.test_fraction} is outside (0, 1)",
                        "use e.g. 0.2 to hold out a fifth of each class")
    src = DATASETS[cfg.name](cfg)
    labels, y = np.unique(src.y, return_inverse=True)  # sorted order: stable ids across runs
    y = y.astype(np.int64).reshape(-1)
    class_names = src.class_names or [str(v) for v in labels]
    if len(labels) < 2:
        raise DataError(f"dataset {cfg.name!r} has a single label ({class_names[0]})",
                        "give the data at least two classes")
    g, group_names = None, None
    if src.g is not None:
        group_values, g = np.unique(src.g, return_inverse=True)
        g = g.astype(np.int64).reshape(-1)
        group_names = [str(v) for v in group_values]

    keep = cap_per_class(y, cfg.max_per_class, seed)
    x, y = src.x[keep], y[keep]
    g = g[keep] if g is not None else None
    if cfg.official_split:
        if src.test is None:
            raise DataError(f"data.official_split: {cfg.name} has no official test split",
                            "use it with cifar10 or cifar100, or drop it")
        te_mask = src.test[keep]
        tr, te = np.flatnonzero(~te_mask), np.flatnonzero(te_mask)
    elif src.source is not None:
        tr, te = source_split(y, src.source[keep], cfg.test_fraction, seed)
    else:
        tr, te = stratified_split(y, g, cfg.test_fraction, seed)
    x_train, x_test, scaling = _standardise(x[tr], x[te], src.pixel_max)
    return Dataset(
        name=cfg.name,
        x_train=x_train, y_train=torch.from_numpy(y[tr]),
        x_test=x_test, y_test=torch.from_numpy(y[te]),
        g_train=torch.from_numpy(g[tr]) if g is not None else None,
        g_test=torch.from_numpy(g[te]) if g is not None else None,
        num_classes=len(labels),
        input_shape=tuple(int(d) for d in x.shape[1:]),
        class_names=list(class_names),
        group_names=group_names,
        scaling=scaling,
        test_rows=keep[te],
    )


def _standardise(x_train: np.ndarray, x_test: np.ndarray,
                 pixel_max: float | None) -> tuple[torch.Tensor, torch.Tensor, tuple]:
    x_train = x_train.astype(np.float32)
    x_test = x_test.astype(np.float32)
    if pixel_max is not None:  # images [N, C, H, W]: one mean and std per channel
        x_train /= pixel_max
        x_test /= pixel_max
        axes = (0,) + tuple(range(2, x_train.ndim))
    else:                      # features: one mean and std per feature
        axes = (0,)
    mean = x_train.mean(axis=axes, keepdims=True)
    std = x_train.std(axis=axes, keepdims=True)
    std[std < 1e-6] = 1.0  # a constant feature (an MNIST border pixel) stays constant, not NaN
    return (torch.from_numpy(np.ascontiguousarray((x_train - mean) / std)),
            torch.from_numpy(np.ascontiguousarray((x_test - mean) / std)), (pixel_max, mean, std))


__all__ = ["DATASETS", "Dataset", "Source", "load_dataset"]
