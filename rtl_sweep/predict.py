"""Load a finished run and predict with it: the shared weights, the masks, the router, the routing table.

    rtl-sweep predict rtl_runs/<name>-<hash> --input new.npz --routing learned --output preds.parquet
    python -c "from rtl_sweep.predict import load_run; run = load_run('rtl_runs/<name>-<hash>'); \
print(run.predict(x, routing='confidence'))"

The model is RTL after joint retraining at one level (`ckpt/joint/L<level>.pt`: one weight tensor
shared by all tickets, and the K masks). The run's config rebuilds everything else exactly as the
run had it: the training data's scaling (new inputs are standardised the same way), the routing
table, the centroids and the router network. Inputs are raw, as the run's data source holds them.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch
import yaml

from rtl_sweep.config import RunConfig, check_routes
from rtl_sweep.context import build_context
from rtl_sweep.errors import ConfigError, DataError
from rtl_sweep.routing import argmax_route, build_router, confidence_route, entropy_route
from rtl_sweep.schema import check_run_folder
from rtl_sweep.serialize import tensor_load
from rtl_sweep.store import Store
from rtl_sweep.training import laid_out, predict_logits


class LoadedRun:
    """RTL of a finished run at one level, ready to route and predict new inputs."""

    def __init__(self, path: str, level: int | None = None, device: str = "cpu"):
        self.store = Store(str(path))
        check_run_folder(self.store)
        if not self.store.exists("config.yaml"):
            raise ConfigError(f"{path} is not a run folder (no config.yaml)",
                              "give the folder a run wrote: <root>/<name>-<hash>")
        self.cfg = RunConfig.from_dict(yaml.safe_load(self.store.read_bytes("config.yaml")))
        levels = sorted(int(m.group(1)) for rel in self.store.list("ckpt/joint", ".pt")
                        if (m := re.search(r"/L(\d+)\.pt$", rel)))
        if self.cfg.joint.epochs <= 0:
            raise ConfigError(f"{path} has no joint retraining (joint.epochs=0): its tickets were "
                              "trained separately and their weights are not kept",
                              "predict with a run that has joint.epochs > 0")
        if not levels:
            raise ConfigError(f"{path} has no finished joint-retrained level", "run it to the end first")
        self.level = levels[-1] if level is None else level
        if self.level not in levels:
            raise ConfigError(f"{path} has no joint-retrained level {self.level}",
                              f"use --level in {levels[0]}..{levels[-1]}")
        try:
            self.ctx = build_context(self.cfg, device)
        except DataError as e:
            raise DataError(f"the run's training data is needed for its scaling and routing table: "
                            f"{e.problem}", e.fix) from None
        ck = tensor_load(self.store.read_bytes(f"ckpt/joint/L{self.level}.pt"))
        dev = self.ctx.device
        layout = self.ctx.model.memory_format  # the weights in the masks' layout (files are contiguous)
        self.shared = {n: laid_out(p.to(dev), layout) for n, p in ck["shared"].items()}
        self.buffers = {n: b.to(dev) for n, b in ck["buffers"].items()}
        self.masks = ck["masks"]
        self._routers: dict = {}

    @property
    def sparsity(self) -> float:
        return self.ctx.sparsity(self.level)

    # ---- inputs ---------------------------------------------------------------------------
    def prepare(self, x) -> torch.Tensor:
        """Raw inputs [N, *input_shape] (or flattened) -> the standardised tensor the run used."""
        x = np.asarray(x)
        shape = tuple(self.ctx.data.input_shape)
        if x.ndim < 1 or len(x) == 0:
            raise DataError("no inputs to predict", "give X with one sample per row")
        if tuple(x.shape[1:]) != shape:
            if int(np.prod(x.shape[1:])) != int(np.prod(shape)):
                raise DataError(f"inputs have shape {tuple(x.shape)}, the run's model reads (N, "
                                f"{', '.join(map(str, shape))})", "give inputs of the run's data shape")
            x = x.reshape(len(x), *shape)
        return self.ctx.data.prepare(x)

    def subsets_of(self, y=None, group=None) -> np.ndarray | None:
        """The oracle's subset ids from raw labels (class partitions) or groups (group partition);
        None when the partition needs neither (k-means) or they are missing."""
        part, data = self.ctx.partition, self.ctx.data
        if part.class_to_subset is not None and y is not None:
            return part.class_to_subset[self.class_ids(y)]
        if part.method == "group" and group is not None:
            return _ids(group, data.group_names or [], "group")
        return None

    def class_ids(self, y) -> np.ndarray:
        return _ids(y, self.ctx.data.class_names, "label")

    # ---- prediction -----------------------------------------------------------------------
    def outputs(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Every ticket's outputs on prepared inputs, through the shared weights."""
        x = x.to(self.ctx.device)
        return [predict_logits(self.ctx.model, self.shared, self.buffers, m, x) for m in self.masks]

    def predict(self, x, routing: str = "oracle", subsets=None) -> dict[str, np.ndarray]:
        """Route raw inputs `x` and answer: {'subset': chosen subset id, 'prediction': class id
        (multiclass) | subset id (ovr argmax) | 1/0, the routed detector's answer (ovr oracle)}.
        The oracle needs `subsets` (the inputs' known subset ids) unless the partition is k-means,
        whose oracle is its nearest centroid."""
        check_routes(self.cfg.protocol, [routing], what="routing")
        xt = self.prepare(x)
        outs = self.outputs(xt)
        if routing == "oracle":
            if subsets is None and self.ctx.partition.method == "kmeans":
                routing = "centroid"
            elif subsets is None:
                raise ConfigError("routing=oracle needs each input's subset id",
                                  "give the inputs' labels or group column, or use another routing")
        if routing == "oracle":
            chosen = np.asarray(subsets, dtype=np.int64)
            if chosen.shape != (len(xt),) or chosen.min() < 0 or chosen.max() >= self.ctx.K:
                raise DataError(f"subsets must be {len(xt)} ids in 0..{self.ctx.K - 1}",
                                "give one subset id per input")
        elif routing == "argmax":
            chosen = argmax_route(outs)
        elif routing == "confidence":
            chosen = confidence_route(outs)
        elif routing == "entropy":
            chosen = entropy_route(outs)
        else:
            if routing not in self._routers:
                self._routers[routing] = build_router(self.ctx, self.store, routing)
            chosen = self._routers[routing].choose(outs, xt)
        idx = np.arange(len(chosen))
        if self.cfg.protocol == "ovr":
            if routing == "argmax":
                pred = chosen
            else:  # the routed detector's yes / no
                own = torch.stack([lg[:, k] for k, lg in enumerate(outs)], 1).numpy()
                pred = (own[idx, chosen] > 0).astype(np.int64)
        else:
            pred = np.stack([lg.argmax(1).numpy() for lg in outs])[chosen, idx]
        return {"subset": np.asarray(chosen, dtype=np.int64), "prediction": np.asarray(pred, dtype=np.int64)}


def load_run(path: str, level: int | None = None, device: str = "cpu") -> LoadedRun:
    """A finished run's RTL model at `level` (default: its last joint-retrained level)."""
    return LoadedRun(path, level, device)


def _ids(values, names: list[str], what: str) -> np.ndarray:
    """Raw labels or groups -> ids, by the names the run gave them (str of the sorted values)."""
    index = {n: i for i, n in enumerate(names)}
    vals = [str(v.item() if hasattr(v, "item") else v) for v in np.asarray(values).reshape(-1)]
    unknown = sorted({v for v in vals if v not in index})
    if unknown:
        raise DataError(f"{what} value(s) {unknown[:5]} were not in the run's data",
                        f"use the run's {what}s: {', '.join(names[:10])}")
    return np.array([index[v] for v in vals], dtype=np.int64)


def read_inputs(path: str, cfg: RunConfig) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """(X, labels or None, groups or None) of a .npz (X, optional y and group) or a .parquet file
    (the run's label and group columns optional, every other column a feature, in file order)."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise DataError(f"input {p} does not exist", "point --input at a .npz or .parquet file")
    if p.suffix.lower() == ".npz":
        try:
            with np.load(p, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except (ValueError, OSError) as e:
            raise DataError(f"{p} is not a readable .npz of plain arrays ({e})", "save it with np.savez")
        if "X" not in arrays:
            raise DataError(f"{p} has no array X; it holds {sorted(arrays)}", "save it with np.savez(path, X=...)")
        return arrays["X"], arrays.get("y"), arrays.get("group")
    if p.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq
        t = pq.read_table(p)
        label, group = cfg.data.label_column, cfg.data.group_column
        feats = [c for c in t.column_names if c not in (label, group)]
        if not feats:
            raise DataError(f"{p} has no feature columns", "add the run's feature columns")
        x = np.stack([t.column(c).to_numpy().astype(np.float32) for c in feats], axis=1)
        col = lambda c: t.column(c).to_numpy() if c and c in t.column_names else None  # noqa: E731
        return x, col(label), col(group)
    raise DataError(f"input {p} has unknown extension {p.suffix!r}", "give a .npz or .parquet file")
