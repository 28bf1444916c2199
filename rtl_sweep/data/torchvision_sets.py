"""CIFAR-10 and CIFAR-100 through torchvision, from data.data_dir; downloads only when asked.

    python -c "from rtl_sweep.config import DataConfig; from rtl_sweep.data import load_dataset; \
print(load_dataset(DataConfig(name='cifar10', download=True), seed=0).x_train.shape)"

By default the official train and test sets are pooled and re-split by data.test_fraction like
every other source, so one seed and one test_fraction mean the same thing for all datasets;
data.official_split=true keeps the official split (scores then compare with the paper's).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rtl_sweep.config import DataConfig
from rtl_sweep.data.source import Source
from rtl_sweep.errors import DataError


def load_cifar(name: str, cfg: DataConfig) -> Source:
    import torchvision  # lazy: importing it costs seconds

    cls = {"cifar10": torchvision.datasets.CIFAR10, "cifar100": torchvision.datasets.CIFAR100}[name]
    root = Path(cfg.data_dir).expanduser()
    parts = []
    for train in (True, False):
        try:
            parts.append(cls(root=str(root), train=train, download=cfg.download))
        except RuntimeError as e:  # torchvision: "Dataset not found or corrupted"
            raise DataError(f"{name} files are missing or corrupt in {root} ({e})",
                            f"pass --set data.download=true, or put the {name} python-version "
                            f"archive's extracted folder in {root}") from None
        except OSError as e:  # no network, disk full, permissions
            raise DataError(f"could not fetch {name} into {root}: {e}",
                            f"check the network and that {root} is writable, or copy the "
                            "files there by hand") from None
    x = np.concatenate([p.data for p in parts]).transpose(0, 3, 1, 2)  # NHWC -> NCHW
    y = np.concatenate([np.asarray(p.targets, dtype=np.int64) for p in parts])
    test = np.concatenate([np.zeros(len(parts[0].targets), bool), np.ones(len(parts[1].targets), bool)])
    return Source(x=x, y=y, class_names=list(parts[0].classes), pixel_max=255.0, test=test)
