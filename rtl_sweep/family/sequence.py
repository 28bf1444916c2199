"""Subsets in order over one shared weight tensor: what PackNet, WSN and SupSup have in common.

    python -c "import rtl_sweep.family.sequence as s; help(s.SubsetSequence)"

Subset k = 0 .. K-1 trains in turn on its own data (the task's ticket target: the same samples and
loss as RTL's ticket k), starting from the run's rewind point. A method says which prunable weights
subset k may train (`free`) and which mask it ends with; everything else is read-only. Read-only
holds by construction: the forward pass reads a read-only weight from the shared tensor, never from
a leaf the optimizer holds, and the write-back is torch.where(free, trained, shared), so no gradient,
Adam moment or weight decay of a later subset can reach an earlier subset's weights.

Dense parameters (biases, the classifier; batch-norm affine weights) are trained with subset 0 and
then read-only: every subset reads the same ones, so a later subset changing them would change the
earlier subsets' functions (our choice; the papers give each task its own classifier head, which
would cost K heads). Buffers (batch-norm running statistics) are per subset: each subset keeps the
statistics of its own training, from the rewind point's.
"""

from __future__ import annotations

from typing import Callable

import torch

from rtl_sweep.pruning import Mask, union
from rtl_sweep.training import derive_seed, predict_logits


def fit(ctx, k: int, leaves: list[torch.Tensor], weights: Callable[[], dict], buffers: dict,
        epochs: int, seed: int) -> None:
    """Train `leaves` for `epochs` on subset k's data with Adam at prune.lr (every method's optimizer
    and learning rate); `weights()` gives the forward pass's parameters, built from the leaves."""
    cfg = ctx.cfg
    if epochs <= 0 or not leaves:
        return
    target = ctx.task.ticket_target(ctx, k)
    opt = torch.optim.Adam(leaves, lr=cfg.prune.lr)
    dev = ctx.x_train.device
    ctx.model.module.train()
    for epoch in range(epochs):
        for idx, tgt in target.epoch_batches(cfg.prune.batch_size, derive_seed(seed, "epoch", epoch)):
            xb = ctx.x_train.index_select(0, idx.to(dev))
            opt.zero_grad(set_to_none=True)
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=cfg.precision == "bf16"):
                out = ctx.model.forward(weights(), buffers, None, xb)
            target.loss(out.float(), tgt.to(dev)).backward()
            opt.step()


class SubsetSequence:
    """One method's level: subsets 0 .. K-1 in order (`subset(k)` trains subset k and returns its
    mask), then every subset's test outputs through its mask over the final shared tensor."""

    name = ""

    def __init__(self, ctx, level: int):
        self.ctx, self.level = ctx, level
        params, bufs = self.start()
        dev = ctx.device
        self.weights = {n: p.detach().to(dev).clone() for n, p in params.items()}  # the shared tensor
        self.start_buffers = bufs
        self.prunable = list(ctx.model.prunable)
        self.taken: Mask = {n: torch.zeros_like(self.weights[n], dtype=torch.bool) for n in self.prunable}
        self.density = ctx.kept[level] / ctx.total_prunable  # the level's density
        self.masks: list[Mask] = []
        self.buffers: list[dict] = []

    def start(self) -> tuple[dict, dict]:
        """The shared tensor's start: the run's rewind point (theta_0 unless late rewinding)."""
        return self.ctx.rewind_params, self.ctx.rewind_buffers

    def seed(self, k: int, *keys) -> int:
        return derive_seed(self.ctx.cfg.seed, self.name, self.level, k, *keys)

    def subset(self, k: int) -> Mask:
        """Train subset k (updating the shared tensor only where it may) and return its mask."""
        raise NotImplementedError

    def new_buffers(self) -> dict:
        bufs = {n: b.detach().to(self.ctx.device).clone() for n, b in self.start_buffers.items()}
        self.buffers.append(bufs)
        return bufs

    def leaves(self, names: list[str]) -> dict[str, torch.Tensor]:
        """Trainable copies of the named shared weights, for one optimizer."""
        return {n: self.weights[n].clone().requires_grad_(True) for n in names}

    def dense_names(self, k: int) -> list[str]:
        """The dense parameters subset k trains: all of them for subset 0, none after."""
        return [n for n in self.weights if n not in self.taken] if k == 0 else []

    def forward_weights(self, leaves: dict, free: Mask, mask: dict | None = None) -> dict:
        """The forward pass's parameters: a prunable weight from its leaf where `free`, else from the
        shared tensor; times `mask` (floats, possibly straight-through) where given; a dense
        parameter from its leaf when it has one."""
        out = {}
        for n, w in self.weights.items():
            if n in free:
                v = torch.where(free[n], leaves[n], w) if n in leaves else w
                out[n] = v * mask[n] if mask is not None else v
            else:
                out[n] = leaves.get(n, w)
        return out

    def write_back(self, leaves: dict, free: Mask) -> None:
        """Keep the trained values where `free` (and trained dense parameters); nothing else moves."""
        for n, leaf in leaves.items():
            v = leaf.detach()
            self.weights[n] = torch.where(free[n], v, self.weights[n]) if n in free else v.clone()

    def run(self) -> dict:
        """Every subset in order; the checkpoint's entries."""
        for k in range(self.ctx.K):
            self.masks.append(self.subset(k))
        model, x = self.ctx.model, self.ctx.x_test
        logits = [predict_logits(model, self.weights, b, m, x) for m, b in zip(self.masks, self.buffers)]
        masks = [{n: m.cpu() for n, m in mk.items()} for mk in self.masks]
        u = union(masks)
        shared = {n: (w.cpu() * u[n] if n in u else w.cpu()) for n, w in self.weights.items()}
        return {"logits": logits, "masks": masks, "shared": shared,
                "buffers": [{n: b.cpu() for n, b in bufs.items()} for bufs in self.buffers]}
