"""Continual-learning benchmarks of the mask-per-subset family, built from the bundled 5,000 MNIST images.

    python -m rtl_sweep.data.benchmarks permuted pmnist.npz --k 5
    python -m rtl_sweep.data.benchmarks rotated rmnist.npz --k 5
    python -m rtl_sweep.data.benchmarks split smnist.npz          # 5 class pairs, labels 0/1 per pair
    python -m rtl_sweep.data.benchmarks permuted pmnist.npz --per-digit 200   # 2,000 of the images

PackNet, WSN and SupSup report these with the task identity known (RTL's `partition.method=group`).
Each file is the user-file format (X, y, group) plus `source`: which image a sample was made from
(its row among the images the file was built from: the bundled rows, or the kept ones under
--per-digit). load_dataset splits such a file by source image, so no image is in train under one
environment and in test under another (the same digit seen through another permutation would
otherwise leak its label into the test score). Their papers use the 60,000-image MNIST; these are
5,000 images.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from rtl_sweep.errors import DataError


def _mnist(per_digit: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The bundled images; per_digit > 0 keeps the first per_digit images of each digit in file
    order (no randomness: the same images for every benchmark and seed)."""
    from rtl_sweep.data.bundled import load_mnist5k
    src = load_mnist5k()
    x, y = np.asarray(src.x, dtype=np.uint8).reshape(-1, 28, 28), np.asarray(src.y, dtype=np.int64)
    if per_digit > 0:
        keep = np.sort(np.concatenate([np.flatnonzero(y == d)[:per_digit] for d in np.unique(y)]))
        x, y = x[keep], y[keep]
    return x, y


def permuted(k: int = 5, seed: int = 0, per_digit: int = 0) -> dict[str, np.ndarray]:
    """Every image in k environments, one fixed pixel permutation each; environment 0 is the
    identity (as in the papers' first task)."""
    x, y = _mnist(per_digit)
    flat = x.reshape(len(x), -1)
    rng = np.random.default_rng([seed, 21])
    perms = [np.arange(flat.shape[1])] + [rng.permutation(flat.shape[1]) for _ in range(k - 1)]
    xs = np.concatenate([flat[:, p] for p in perms]).reshape(-1, 1, 28, 28)
    return _rows(xs, np.tile(y, k), np.repeat(np.arange(k), len(x)), np.tile(np.arange(len(x)), k),
                 [f"perm{i}" for i in range(k)])


def rotated(k: int = 5, max_angle: float = 180.0, per_digit: int = 0) -> dict[str, np.ndarray]:
    """Every image in k environments, rotated by angles evenly spaced in [0, max_angle)."""
    from scipy.ndimage import rotate
    x, y = _mnist(per_digit)
    angles = [max_angle * i / k for i in range(k)]
    xs = np.concatenate([np.clip(rotate(x.astype(np.float32), a, axes=(1, 2), reshape=False, order=1),
                                 0, 255).round().astype(np.uint8) for a in angles])[:, None]
    return _rows(xs, np.tile(y, k), np.repeat(np.arange(k), len(x)), np.tile(np.arange(len(x)), k),
                 [f"rot{int(round(a))}" for a in angles])


def split(k: int = 5, per_digit: int = 0) -> dict[str, np.ndarray]:
    """k class pairs (0/1, 2/3, ...), one environment per pair, labels 0/1 within the pair
    (the per-task heads of split MNIST become one shared 2-way output)."""
    if not 1 <= k <= 5:
        raise DataError(f"split MNIST has 1 to 5 class pairs, not k={k}", "pass --k 5 or fewer")
    x, y = _mnist(per_digit)
    keep = np.flatnonzero(y < 2 * k)
    return _rows(x[keep][:, None], y[keep] % 2, y[keep] // 2, keep,
                 [f"{2 * i}v{2 * i + 1}" for i in range(k)])


def _rows(x, y, g, source, names) -> dict[str, np.ndarray]:
    return dict(X=x, y=y.astype(np.int64), group=np.asarray(names)[g], source=source.astype(np.int64))


BUILDERS = {"permuted": permuted, "rotated": rotated, "split": split}


def write(kind: str, path: str, k: int = 5, per_digit: int = 0) -> Path:
    if kind not in BUILDERS:
        raise DataError(f"unknown benchmark {kind!r}", f"choose one of {', '.join(BUILDERS)}")
    if per_digit < 0:
        raise DataError(f"--per-digit {per_digit} is negative", "pass 0 (all 500 images per digit) or a count")
    p = Path(path)
    if p.suffix != ".npz":
        raise DataError(f"{p} is not a .npz file name", "name the output e.g. pmnist.npz")
    arrays = BUILDERS[kind](k, per_digit=per_digit)
    tmp = p.with_name(p.name + ".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(p)  # atomic: a half-written file never takes the name
    return p


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m rtl_sweep.data.benchmarks", description=__doc__.split("\n")[0])
    ap.add_argument("kind", choices=sorted(BUILDERS))
    ap.add_argument("path", help="output .npz")
    ap.add_argument("--k", type=int, default=5, help="environments (permutations, angles, class pairs)")
    ap.add_argument("--per-digit", type=int, default=0,
                    help="images per digit, the first in file order (default 0: all 500)")
    a = ap.parse_args(argv)
    try:
        out = write(a.kind, a.path, a.k, a.per_digit)
    except DataError as e:
        print(f"error: {e}")
        return 2
    with np.load(out) as z:
        print(f"wrote {out}: {len(z['y'])} samples from {len(np.unique(z['source']))} MNIST images "
              f"in environments {', '.join(np.unique(z['group']))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
