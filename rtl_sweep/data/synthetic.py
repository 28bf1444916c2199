"""A synthetic image set for timing only: its scores mean nothing.

    rtl-sweep run --set data.name=synthetic --set data.synthetic_size=2000 --set prune.vectorize=on

It exists so the paper's protocol (CIFAR-10's shape and size) can be timed where the CIFAR files
are absent: `rtl-sweep bench gpu` falls back to it and labels every figure. Each class has a fixed
random prototype image; a sample is its class's prototype plus noise, so models do learn (loss
falls, batch statistics behave like real ones) but nothing about real data is learned. It is never
a default: it must be named, every table row of its runs carries `synthetic = true`, and the run
summary opens with a warning.
"""

from __future__ import annotations

import numpy as np

from rtl_sweep.config import DataConfig
from rtl_sweep.data.source import Source
from rtl_sweep.errors import DataError


def parse_shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(v) for v in str(text).split(","))
    except ValueError:
        shape = ()
    if not shape or any(d < 1 for d in shape):
        raise DataError(f"data.synthetic_shape={text!r} is not a shape",
                        "give positive sizes separated by commas, e.g. 3,32,32")
    return shape


def load_synthetic(cfg: DataConfig) -> Source:
    shape, C, n = parse_shape(cfg.synthetic_shape), cfg.synthetic_classes, cfg.synthetic_size
    if C < 2 or n < 4 * C:
        raise DataError(f"synthetic data needs >= 2 classes and >= 4 samples per class (got "
                        f"{C} classes, {n} samples)", "raise data.synthetic_size or data.synthetic_classes")
    rng = np.random.default_rng(12345)  # fixed: the set is the same for every run and seed
    prototypes = rng.normal(0.5, 0.15, size=(C, *shape)).astype(np.float32)
    y = np.arange(n, dtype=np.int64) % C
    x = prototypes[y] + rng.normal(0.0, 0.25, size=(n, *shape)).astype(np.float32)
    return Source(x=np.clip(x, 0.0, 1.0), y=y, class_names=[f"synthetic{c}" for c in range(C)],
                  pixel_max=1.0 if len(shape) == 3 else None)
