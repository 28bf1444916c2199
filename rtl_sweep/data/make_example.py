"""Write an example user file with a group column: bundled MNIST seen under three conditions.

    python -m rtl_sweep.data.make_example envs.npz      # or envs.parquet

The same ten classes appear in three environments (upright; rotated 90 degrees; inverted
contrast), one environment per sample, so `partition.method=group` routes by environment.
This is the case RTL is built for: subsets that really differ in how the same classes look.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ENVIRONMENTS = ("upright", "rotated", "inverted")


def environments(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from rtl_sweep.data.bundled import load_mnist5k
    src = load_mnist5k()
    x = np.asarray(src.x, dtype=np.float32).reshape(-1, 28, 28)
    rng = np.random.default_rng(seed)
    group = rng.integers(0, len(ENVIRONMENTS), size=len(x))
    x = x.copy()
    x[group == 1] = np.rot90(x[group == 1], k=1, axes=(1, 2))
    x[group == 2] = 255.0 - x[group == 2]
    return x[:, None], np.asarray(src.y), np.array(ENVIRONMENTS)[group]


def write(path: str, seed: int = 0) -> Path:
    x, y, g = environments(seed)
    p = Path(path)
    if p.suffix == ".npz":
        np.savez_compressed(p, X=x, y=y, group=g)
    elif p.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq
        flat = x.reshape(len(x), -1)
        cols = {f"px{i}": flat[:, i] for i in range(flat.shape[1])}
        cols.update(label=y, environment=g)
        pq.write_table(pa.table(cols), p)
    else:
        raise SystemExit("use a .npz or .parquet file name")
    return p


if __name__ == "__main__":
    out = write(sys.argv[1] if len(sys.argv) > 1 else "envs.npz")
    print(f"wrote {out}: 5000 MNIST digits in environments {', '.join(ENVIRONMENTS)}")
