"""Everything a run's stages share, built deterministically from the config: the task, its data
and routing table, the model, the shared init, the rewind point and the pruning schedule.

    python -c "from rtl_sweep.config import RunConfig; from rtl_sweep.context import build_context; print(build_context(RunConfig()).kept)"

Any process (the driver, a Ray actor on another node) that builds the context from the same config
gets bit-identical tensors, so stages can run anywhere and still agree.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, fields

import numpy as np

import torch

from rtl_sweep.config import RunConfig
from rtl_sweep.data import Dataset
from rtl_sweep.device import deterministic_cuda, pick_device
from rtl_sweep.errors import ConfigError
from rtl_sweep.models import prunable_names
from rtl_sweep.partition import Partition
from rtl_sweep.pruning import kept_schedule
from rtl_sweep.serialize import tensor_bytes, tensor_load
from rtl_sweep.tasks import Task, get_task
from rtl_sweep.training import TicketModel, derive_seed


@dataclass
class RunContext:
    cfg: RunConfig
    task: Task
    data: Dataset
    partition: Partition         # the routing table: subset id of every sample
    model: TicketModel
    init_params: dict            # theta_0, CPU
    init_buffers: dict
    rewind_params: dict          # the rewind point (theta_0, or a late-rewind step), CPU
    rewind_buffers: dict
    kept: list[int]              # kept prunable weights per level (level 0 = all)
    total_prunable: int
    dense_params: int            # non-prunable weights of one copy
    device: torch.device
    x_train: torch.Tensor        # on device, moved once
    x_test: torch.Tensor
    num_outputs: int

    @property
    def K(self) -> int:
        return self.partition.k

    @property
    def levels(self) -> int:
        return len(self.kept)

    def sparsity(self, level: int) -> float:
        return 1.0 - self.kept[level] / self.total_prunable


@dataclass
class SharedParts:
    """What a coordinator hands every ticket actor once, through the run folder (`PARTS_FILE`): the
    data, the routing table and the shared init / rewind weights. Actors never re-read the dataset."""

    cfg: RunConfig
    data: Dataset
    partition: Partition
    init_params: dict
    init_buffers: dict
    rewind_params: dict
    rewind_buffers: dict


def build_context(cfg: RunConfig, device: str | torch.device = "auto",
                  parts: SharedParts | None = None) -> RunContext:
    """The run's context; from `parts` (an actor's copy) no data is loaded and nothing is trained."""
    cfg.validate()
    task = get_task(cfg.task)
    dev = pick_device(device) if isinstance(device, str) else device
    if dev.type == "cuda":
        deterministic_cuda()
    data, partition = task.load(cfg, dev) if parts is None else (parts.data, parts.partition)
    num_outputs = task.num_outputs(cfg, data, partition)

    torch.manual_seed(derive_seed(cfg.seed, "init"))
    module = task.build_model(cfg, data, num_outputs).to(dev)
    names = prunable_names(module)
    model = TicketModel(module, names, _memory_format(cfg, module, names))
    if parts is None:
        init_params = {n: p.detach().cpu().clone() for n, p in module.named_parameters()}
        init_buffers = {n: b.detach().cpu().clone() for n, b in module.named_buffers()}
    else:
        init_params, init_buffers = parts.init_params, parts.init_buffers
    total = sum(init_params[n].numel() for n in names)
    dense = sum(p.numel() for n, p in init_params.items() if n not in names)
    kept = kept_schedule(total, cfg.prune.mode, cfg.prune.fraction, cfg.prune.count,
                         cfg.prune.target_sparsity)
    ctx = RunContext(cfg, task, data, partition, model, init_params, init_buffers, init_params,
                     init_buffers, kept, total, dense, dev, data.x_train.to(dev), data.x_test.to(dev),
                     num_outputs)
    if parts is not None:
        ctx.rewind_params, ctx.rewind_buffers = parts.rewind_params, parts.rewind_buffers
    elif cfg.prune.rewind_step > 0:
        from rtl_sweep.rewind import late_rewind_point
        ctx.rewind_params, ctx.rewind_buffers = late_rewind_point(ctx)
    return ctx


def _memory_format(cfg: RunConfig, module: torch.nn.Module, names: list[str]) -> torch.memory_format:
    if cfg.memory_format == "contiguous":
        return torch.contiguous_format
    weights = dict(module.named_parameters())
    if not any(weights[n].dim() == 4 for n in names):
        raise ConfigError(f"memory_format=channels_last needs a conv model; model.name={cfg.model.name} "
                          "has no convolutions", "use model.name=cnn or ghostnet, or leave memory_format unset")
    return torch.channels_last


def shared_parts(ctx: RunContext) -> SharedParts:
    return SharedParts(ctx.cfg, ctx.data, ctx.partition, ctx.init_params, ctx.init_buffers,
                       ctx.rewind_params, ctx.rewind_buffers)


# In the run folder, beside the checkpoints: an actor (and one Ray restarts) builds its context from
# this file, which outlives Ray's object store (an object there may be gone when Ray restarts it).
PARTS_FILE = "parts.pt"


def _plain(v):
    """A value `weights_only` loading can read: numpy arrays (at any depth) become tagged tensors."""
    if isinstance(v, np.ndarray):
        return {"__numpy__": torch.from_numpy(np.ascontiguousarray(v))}
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, (list, tuple)):
        return type(v)(_plain(x) for x in v)
    return v


def _unplain(v):
    if isinstance(v, dict) and set(v) == {"__numpy__"}:
        return v["__numpy__"].numpy()
    if isinstance(v, (list, tuple)):
        return type(v)(_unplain(x) for x in v)
    return v


def parts_bytes(parts: SharedParts) -> bytes:
    """The parts as plain fields (tensors, lists, numbers), so `weights_only` loading reads them."""
    def plain(obj) -> dict:
        return {f.name: _plain(getattr(obj, f.name)) for f in fields(obj)}
    kind = type(parts.data)  # a task may extend Dataset (the INR task's ImageDataset)
    return tensor_bytes({"cfg": parts.cfg.to_dict(), "data": plain(parts.data),
                         "data_class": f"{kind.__module__}:{kind.__qualname__}",
                         "partition": plain(parts.partition), "init_params": parts.init_params,
                         "init_buffers": parts.init_buffers, "rewind_params": parts.rewind_params,
                         "rewind_buffers": parts.rewind_buffers})


def load_parts(blob: bytes) -> SharedParts:
    d = tensor_load(blob)
    module, name = d["data_class"].split(":")
    data_class = getattr(importlib.import_module(module), name)
    if not issubclass(data_class, Dataset):  # the file names a class; only datasets are built
        raise TypeError(f"{PARTS_FILE} names {module}:{name}, which is not a Dataset")
    data = {k: _unplain(v) for k, v in d["data"].items()}
    partition = {k: _unplain(v) for k, v in d["partition"].items()}
    return SharedParts(RunConfig.from_dict(d["cfg"]), data_class(**data), Partition(**partition),
                       d["init_params"], d["init_buffers"], d["rewind_params"], d["rewind_buffers"])
