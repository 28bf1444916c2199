"""Everything a run's stages share, built deterministically from the config: data, routing table,
model, shared init, rewind point, pruning schedule, objectives.

    python -c "from rtl_sweep.config import RunConfig; from rtl_sweep.context import build_context; print(build_context(RunConfig()).kept)"

Any process (the driver, a Ray actor on another node) that builds the context from the same config
gets bit-identical tensors, so stages can run anywhere and still agree.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, fields

import numpy as np
import torch

from rtl_sweep.config import RunConfig
from rtl_sweep.data import Dataset, load_dataset
from rtl_sweep.models import build_model, prunable_names
from rtl_sweep.partition import Partition, build_partition
from rtl_sweep.pruning import kept_schedule
from rtl_sweep.training import Objective, TicketModel, derive_seed, new_state, step, train


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def deterministic_cuda() -> None:
    """Same seed, same masks on a GPU too. Measured on one H200 (the bundled default, sequential
    tickets): two runs with cuDNN's default kernels differed in 3,996 of 7.36M mask bits; with
    these settings in 0, at 45 s instead of 36 s. cuBLAS reads its workspace setting when it first
    starts, so this runs before any CUDA work (building the context is the first)."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    torch.use_deterministic_algorithms(True, warn_only=True)


@dataclass
class RunContext:
    cfg: RunConfig
    data: Dataset
    partition: Partition
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

    def dense_per_copy(self) -> int:
        """Dense weights one separately trained copy must keep. A one-vs-rest detector reads one
        logit, so a copy needs one classifier row (and its bias), not all K of them."""
        if self.cfg.protocol != "ovr":
            return self.dense_params
        head = getattr(self.model.module, "classifier", None)
        if not isinstance(head, torch.nn.Linear):
            return self.dense_params
        row = head.in_features + (1 if head.bias is not None else 0)
        return self.dense_params - (self.num_outputs - 1) * row

    def sparsity(self, level: int) -> float:
        return 1.0 - self.kept[level] / self.total_prunable

    # ---- objectives: what each model learns ----------------------------------------------
    def ticket_objective(self, k: int) -> Objective:
        ids = torch.as_tensor(self.partition.train_ids)
        pos = torch.from_numpy(self.partition.indices(k))
        if self.cfg.protocol == "ovr":
            return Objective("binary", pos, torch.nonzero(ids != k).flatten(), column=k)
        return Objective("ce", pos, targets=self.data.y_train)

    def single_objective(self) -> Objective:
        allidx = torch.arange(len(self.data.y_train))
        if self.cfg.protocol == "ovr":
            # One K-way model over subset ids, scored one-vs-rest from its predictions; with the
            # class partition this is the paper's C-way single model.
            return Objective("ce", allidx, targets=torch.as_tensor(self.partition.train_ids))
        return Objective("ce", allidx, targets=self.data.y_train)


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
    dev = pick_device(device) if isinstance(device, str) else device
    if dev.type == "cuda":
        deterministic_cuda()
    if parts is None:
        data = load_dataset(cfg.data, cfg.seed)
        embed = None
        if cfg.partition.method == "kmeans" and cfg.partition.embedding == "dense":
            embed = _dense_embedding(cfg, data, dev)
        partition = build_partition(cfg.partition, data, cfg.seed, embed=embed)
    else:
        data, partition = parts.data, parts.partition
    num_outputs = partition.k if cfg.protocol == "ovr" else data.num_classes

    torch.manual_seed(derive_seed(cfg.seed, "init"))
    module = build_model(cfg.model, data.input_shape, num_outputs).to(dev)
    names = prunable_names(module)
    model = TicketModel(module, names)
    if parts is None:
        init_params = {n: p.detach().cpu().clone() for n, p in module.named_parameters()}
        init_buffers = {n: b.detach().cpu().clone() for n, b in module.named_buffers()}
    else:
        init_params, init_buffers = parts.init_params, parts.init_buffers
    total = sum(init_params[n].numel() for n in names)
    dense = sum(p.numel() for n, p in init_params.items() if n not in names)
    kept = kept_schedule(total, cfg.prune.mode, cfg.prune.fraction, cfg.prune.count,
                         cfg.prune.target_sparsity)
    x_train = data.x_train.to(dev)
    x_test = data.x_test.to(dev)
    ctx = RunContext(cfg, data, partition, model, init_params, init_buffers, init_params, init_buffers,
                     kept, total, dense, dev, x_train, x_test, num_outputs)
    if parts is not None:
        ctx.rewind_params, ctx.rewind_buffers = parts.rewind_params, parts.rewind_buffers
    elif cfg.prune.rewind_step > 0:
        ctx.rewind_params, ctx.rewind_buffers = _late_rewind_point(ctx)
    return ctx


def shared_parts(ctx: RunContext) -> SharedParts:
    return SharedParts(ctx.cfg, ctx.data, ctx.partition, ctx.init_params, ctx.init_buffers,
                       ctx.rewind_params, ctx.rewind_buffers)


# In the run folder, beside the checkpoints: an actor (and one Ray restarts) builds its context from
# this file, which outlives Ray's object store (an object there may be gone when Ray restarts it).
PARTS_FILE = "parts.pt"


def parts_bytes(parts: SharedParts) -> bytes:
    """The parts as plain fields (tensors, lists, numbers), so `weights_only` loading reads them."""
    def plain(obj) -> dict:
        return {f.name: torch.from_numpy(v) if isinstance(v, np.ndarray) else v
                for f in fields(obj) for v in [getattr(obj, f.name)]}
    return tensor_bytes({"cfg": parts.cfg.to_dict(), "data": plain(parts.data),
                         "partition": plain(parts.partition), "init_params": parts.init_params,
                         "init_buffers": parts.init_buffers, "rewind_params": parts.rewind_params,
                         "rewind_buffers": parts.rewind_buffers})


def load_parts(blob: bytes) -> SharedParts:
    d = tensor_load(blob)
    partition = {k: v.numpy() if isinstance(v, torch.Tensor) else v for k, v in d["partition"].items()}
    return SharedParts(RunConfig.from_dict(d["cfg"]), Dataset(**d["data"]), Partition(**partition),
                       d["init_params"], d["init_buffers"], d["rewind_params"], d["rewind_buffers"])


def _late_rewind_point(ctx: RunContext) -> tuple[dict, dict]:
    """Late rewinding with ONE shared rewind point: the dense model trained on all data for
    `rewind_step` steps (the single model's objective), so every ticket still shares its start."""
    cfg = ctx.cfg
    params, bufs = new_state(ctx.init_params, ctx.init_buffers, ctx.device)
    obj = ctx.single_objective()
    opt = torch.optim.Adam(params.values(), lr=cfg.prune.lr)
    steps, epoch = 0, 0
    while steps < cfg.prune.rewind_step:
        for idx, tgt in obj.epoch_batches(cfg.prune.batch_size, derive_seed(cfg.seed, "rewind", epoch)):
            step(ctx.model, params, bufs, None, obj, ctx.x_train, idx, tgt, opt)
            steps += 1
            if steps >= cfg.prune.rewind_step:
                break
        epoch += 1
    return ({n: p.detach().cpu().clone() for n, p in params.items()},
            {n: b.detach().cpu().clone() for n, b in bufs.items()})


def _dense_embedding(cfg: RunConfig, data: Dataset, dev: torch.device):
    """Features of a dense model trained on the labels for prune.epochs: the 'dense' k-means space."""
    torch.manual_seed(derive_seed(cfg.seed, "embed-init"))
    module = build_model(cfg.model, data.input_shape, data.num_classes).to(dev)
    model = TicketModel(module, [])
    params, bufs = new_state(dict(module.named_parameters()), dict(module.named_buffers()), dev)
    x = data.x_train.to(dev)
    obj = Objective("ce", torch.arange(len(data.y_train)), targets=data.y_train)
    train(model, params, bufs, None, obj, x, cfg.prune.epochs, cfg.prune.lr, cfg.prune.batch_size,
          derive_seed(cfg.seed, "embed"))

    module.load_state_dict({**{n: p.detach() for n, p in params.items()}, **bufs})
    module.eval()

    @torch.no_grad()
    def embed(xs: torch.Tensor) -> np.ndarray:
        return torch.cat([module.features(xs[i:i + 2048].to(dev)).cpu()
                          for i in range(0, len(xs), 2048)]).numpy()

    return embed


def tensor_bytes(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def tensor_load(blob: bytes):
    return torch.load(io.BytesIO(blob), weights_only=True)

