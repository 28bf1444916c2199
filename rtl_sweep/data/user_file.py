"""Your own data: a .npz (X, y, optional group and source) or a .parquet table (label, optional group, features).

    python -c "import numpy as np; np.savez('d.npz', X=np.random.rand(40, 5), y=np.arange(40) % 2)"
    python -c "from rtl_sweep.config import DataConfig; from rtl_sweep.data import load_dataset; \
print(load_dataset(DataConfig(name='file', path='d.npz'), seed=0).input_shape)"

Labels and groups may be any ints or strings; load_dataset maps them to 0..C-1 in sorted order.
A `source` array (the original sample each row was made from, benchmarks.py) makes the train/test
split keep all rows of one source on the same side.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rtl_sweep.config import DataConfig
from rtl_sweep.data.source import Source
from rtl_sweep.errors import DataError


def load_user_file(cfg: DataConfig) -> Source:
    if not cfg.path:
        raise DataError("data.name=file needs data.path", "pass --set data.path=/path/to/data.npz")
    path = Path(cfg.path).expanduser()
    if not path.is_file():
        raise DataError(f"data.path {path} does not exist", "point data.path at a .npz or .parquet file")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        src = _load_npz(path)
    elif suffix in (".parquet", ".pq"):
        src = _load_parquet(path, cfg.label_column, cfg.group_column)
    else:
        raise DataError(f"data.path {path} has unknown extension {suffix!r}",
                        "save the data as .npz (X, y, optional group) or .parquet")
    _check(src, path)
    return src


def _load_npz(path: Path) -> Source:
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (ValueError, OSError) as e:
        raise DataError(f"{path} is not a readable .npz of plain arrays ({e})",
                        "save it with np.savez(path, X=..., y=...) using numeric or string arrays")
    missing = [k for k in ("X", "y") if k not in arrays]
    if missing:
        raise DataError(f"{path} lacks array(s) {missing}; it holds {sorted(arrays)}",
                        "save it with np.savez(path, X=features, y=labels, group=optional)")
    x = arrays["X"]
    if x.ndim == 1:  # one feature per sample
        x = x[:, None]
    y = arrays["y"]
    if y.ndim == 2 and y.shape[1] == 1:  # a column vector, as some exporters write it
        y = y[:, 0]
    return Source(x=x, y=y, g=arrays.get("group"), source=arrays.get("source"))


def _load_parquet(path: Path, label_column: str, group_column: str) -> Source:
    import pyarrow as pa  # lazy: pyarrow costs a second to import
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as e:
        raise DataError(f"{path} is not a readable Parquet file ({e})", "rewrite it with pyarrow or pandas")
    columns = table.column_names
    if not label_column:
        raise DataError("data.label_column is empty", f"pass --set data.label_column=<one of {columns}>")
    for key, col in (("data.label_column", label_column), ("data.group_column", group_column)):
        if col and col not in columns:
            raise DataError(f"{path} has no column {col!r} ({key}); columns are {columns}",
                            f"pass --set {key}=<one of those columns>")
    features = [c for c in columns if c not in (label_column, group_column)]
    if not features:
        raise DataError(f"{path} has no feature columns besides {label_column!r}",
                        "add numeric feature columns")
    bad = [c for c in features if not (pa.types.is_integer(table.schema.field(c).type)
                                       or pa.types.is_floating(table.schema.field(c).type)
                                       or pa.types.is_boolean(table.schema.field(c).type))]
    if bad:
        raise DataError(f"{path} has non-numeric feature column(s) {bad}",
                        "encode them as numbers, drop them, or name them in data.label_column / "
                        "data.group_column")
    nulls = [c for c in columns if table.column(c).null_count]
    if nulls:
        raise DataError(f"{path} has missing values in column(s) {nulls}", "fill or drop those rows")

    def col(c: str) -> np.ndarray:
        return table.column(c).to_numpy()

    x = np.stack([col(c).astype(np.float32) for c in features], axis=1)
    return Source(x=x, y=col(label_column), g=col(group_column) if group_column else None)


def _check(src: Source, path: Path) -> None:
    n = len(src.x)
    if src.y.ndim != 1 or len(src.y) != n:
        raise DataError(f"{path}: X has {n} samples but y has shape {src.y.shape}",
                        "give y one label per row of X (samples first)")
    if src.g is not None and (src.g.ndim != 1 or len(src.g) != n):
        raise DataError(f"{path}: X has {n} samples but group has shape {src.g.shape}",
                        "give group one id per row of X, or leave it out")
    if src.source is not None and (src.source.ndim != 1 or len(src.source) != n):
        raise DataError(f"{path}: X has {n} samples but source has shape {src.source.shape}",
                        "give source one original-sample id per row of X, or leave it out")
    if not (np.issubdtype(src.x.dtype, np.number) or src.x.dtype == bool):
        raise DataError(f"{path}: X has non-numeric dtype {src.x.dtype}",
                        "store X as a float or integer array")
    if np.issubdtype(src.x.dtype, np.floating) and not np.isfinite(src.x).all():
        raise DataError(f"{path}: X holds NaN or infinite values", "fill or drop those samples")
    if n < 4:
        raise DataError(f"{path} holds only {n} samples", "give at least a few samples per class")
