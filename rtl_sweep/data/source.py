"""What a dataset loader returns: the raw arrays as the source holds them.

    python -c "from rtl_sweep.data.source import Source; help(Source)"

Its own module so that the loaders (bundled, user_file, synthetic, torchvision_sets) import it
without importing the package that registers them (rtl_sweep/data/__init__.py, DATASETS).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Source:
    """What a loader found: samples first, labels and groups as stored (any sortable values)."""

    x: np.ndarray                 # [N, *input_shape], any numeric dtype
    y: np.ndarray                 # [N] raw labels
    g: np.ndarray | None = None   # [N] raw group ids, or None
    class_names: list[str] | None = None  # names of the sorted unique labels; None: str(label)
    pixel_max: float | None = None  # images: divide by it, then per-channel stats; None: per-feature
    test: np.ndarray | None = None  # [N] bool: the source's own test split (CIFAR's official one)
    source: np.ndarray | None = None  # [N] id of the original sample each row was made from
    #                                   (benchmarks.py): rows of one source stay on one side
