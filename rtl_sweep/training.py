"""Masked training: training targets (samples + loss), masked forward passes, Adam steps. Pure torch.

    python -c "import rtl_sweep.training as t; help(t.train)"

The effective weight of a ticket is theta * mask, computed inside the forward pass. The gradient of
the loss with respect to theta is then exactly zero outside the mask, and Adam (fresh state per
ticket) keeps its moments there at zero, so pruned weights never move: no hooks, no re-masking.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch.func import functional_call

from rtl_sweep.pruning import Mask


def derive_seed(seed: int, *keys: object) -> int:
    """A seed for one purpose (e.g. 'ticket', 3, 'level', 2) that does not depend on run order."""
    blob = ":".join(map(str, (seed, *keys))).encode()
    return int.from_bytes(hashlib.sha256(blob).digest()[:8], "little") & 0x7FFF_FFFF_FFFF_FFFF


@dataclass(frozen=True)
class TrainTarget:
    """What one model is trained to do on which samples.

    kind: 'binary' (one-vs-rest detector: output column `column`, positives vs sampled negatives,
    balanced), 'ce' (cross-entropy over all outputs with `targets`) or 'mse' (regression: mean
    squared error of all outputs against float `targets` [N, outputs]; an epoch is one pass over
    `positives`, with no negatives) or 'si_snr' (like mse, but the loss is the negative
    scale-invariant SNR of output waveforms against target waveforms, task=speech).
    """

    kind: str
    positives: torch.Tensor          # train indices the model is trained on (its subset, or all)
    negatives: torch.Tensor | None = None   # binary: the pool negatives are sampled from
    column: int = 0                  # binary: which output logit is this detector
    targets: torch.Tensor | None = None     # ce / mse: target per train sample (indexed by sample id)

    def epoch_batches(self, batch_size: int, seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(sample indices, targets) per mini-batch for one epoch, shuffled by `seed`."""
        g = torch.Generator().manual_seed(seed)
        if self.kind == "binary":
            n = len(self.positives)
            pool = self.negatives
            # As many negatives as positives (the paper's class-balanced batches); with replacement
            # only when the other subsets hold fewer samples than this one.
            neg = pool[torch.randperm(len(pool), generator=g)[:n]] if len(pool) >= n \
                else pool[torch.randint(len(pool), (n,), generator=g)]
            pos = self.positives[torch.randperm(n, generator=g)]
            # Interleave positive, negative, positive, ... so that every mini-batch is balanced.
            idx = torch.stack([pos, neg], dim=1).flatten()
            tgt = torch.stack([torch.ones(n), torch.zeros(n)], dim=1).flatten()
        else:
            order = torch.randperm(len(self.positives), generator=g)
            idx = self.positives[order]
            tgt = self.targets[idx]
        return [(idx[i:i + batch_size], tgt[i:i + batch_size]) for i in range(0, len(idx), batch_size)]

    def loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.kind == "binary":
            return F.binary_cross_entropy_with_logits(logits[:, self.column], target)
        if self.kind == "mse":
            return F.mse_loss(logits, target)
        if self.kind == "si_snr":
            from rtl_sweep.audio_metrics import si_snr
            return -si_snr(logits, target).mean()
        return F.cross_entropy(logits, target)


class TicketModel:
    """A module used functionally: parameters and buffers live in dicts owned by the caller.

    memory_format: the layout of the per-model passes' 4-D tensors (images, conv weights, their
    masks). channels_last puts the batch through the convs in NHWC; callers lay out the weights and
    masks once with `laid_out` (new_state, float_mask), so a step copies only its input batch.
    """

    def __init__(self, module: torch.nn.Module, prunable: list[str],
                 memory_format: torch.memory_format = torch.contiguous_format):
        self.module = module
        self.prunable = list(prunable)
        self.buffer_names = [n for n, _ in module.named_buffers()]
        self.memory_format = memory_format

    def forward(self, params: dict, buffers: dict, mask: dict | None, x: torch.Tensor,
                stacked: bool = False) -> torch.Tensor:
        """stacked: called under vmap (rtl_sweep/vectorized.py), where torch cannot express a
        layout other than contiguous, so the input is left as it is."""
        if not stacked:
            x = laid_out(x, self.memory_format)
        eff = dict(params)
        if mask is not None:
            for n in self.prunable:
                eff[n] = params[n] * mask[n]
        eff.update(buffers)
        return functional_call(self.module, eff, (x,))


def laid_out(t: torch.Tensor, memory_format: torch.memory_format) -> torch.Tensor:
    """`t` in `memory_format` if it is 4-D (the only rank channels_last exists for), else `t`. For
    contiguous_format a contiguous tensor comes back as itself: the default path copies nothing."""
    if t.dim() != 4:
        return t
    if memory_format != torch.channels_last:
        return t.contiguous(memory_format=memory_format)
    if t.stride() == nhwc_strides(t.shape):
        return t
    # Not t.contiguous(channels_last): with one channel (MNIST, depthwise and 1x1 weights) NCHW
    # already counts as channels_last there, and torch would run those convolutions NCHW.
    return torch.empty_like(t, memory_format=torch.channels_last).copy_(t)


def nhwc_strides(shape: torch.Size) -> tuple[int, ...]:
    n, c, h, w = shape
    return (h * w * c, 1, w * c, c)


def float_mask(mask: Mask, device: torch.device,
               memory_format: torch.memory_format = torch.contiguous_format) -> dict[str, torch.Tensor]:
    # The mask in the weight's layout: weight * mask then keeps it (mixed layouts would copy).
    return {n: laid_out(m.to(device=device, dtype=torch.float32), memory_format) for n, m in mask.items()}


def new_state(start: dict, buffers: dict, device: torch.device,
              memory_format: torch.memory_format = torch.contiguous_format) -> tuple[dict, dict]:
    """Trainable copies of parameters (leaf tensors) and buffers on `device`; 4-D weights in
    `memory_format`, so their gradients and Adam moments (torch makes them alike) share it."""
    params = {n: laid_out(p.detach().clone().to(device), memory_format).requires_grad_(True)
              for n, p in start.items()}
    bufs = {n: b.detach().clone().to(device) for n, b in buffers.items()}
    return params, bufs


def train(model: TicketModel, params: dict, buffers: dict, mask: Mask | None, target: TrainTarget,
          x: torch.Tensor, epochs: int, lr: float, batch_size: int, seed: int,
          optimizer: torch.optim.Optimizer | None = None, bf16: bool = False) -> torch.optim.Optimizer:
    """Train `params` in place on `target` for `epochs`; x lives on the training device already.
    bf16: autocast the forward pass to bfloat16 (weights, Adam state and the loss stay fp32)."""
    device = x.device
    fmask = float_mask(mask, device, model.memory_format) if mask is not None else None
    opt = optimizer or torch.optim.Adam(params.values(), lr=lr)
    model.module.train()
    for epoch in range(epochs):
        for idx, tgt in target.epoch_batches(batch_size, derive_seed(seed, "epoch", epoch)):
            step(model, params, buffers, fmask, target, x, idx, tgt, opt, bf16)
    return opt


def step(model: TicketModel, params: dict, buffers: dict, fmask: dict | None, target: TrainTarget,
         x: torch.Tensor, idx: torch.Tensor, tgt: torch.Tensor, opt: torch.optim.Optimizer,
         bf16: bool = False) -> None:
    device = x.device
    xb = x.index_select(0, idx.to(device))
    opt.zero_grad(set_to_none=True)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
        out = model.forward(params, buffers, fmask, xb)
    loss = target.loss(out.float(), tgt.to(device))
    loss.backward()
    opt.step()  # no float(loss): on a GPU it would wait for the device on every step


@torch.no_grad()
def predict_logits(model: TicketModel, params: dict, buffers: dict, mask: Mask | None,
                   x: torch.Tensor, chunk: int = 2048) -> torch.Tensor:
    model.module.eval()
    fmask = float_mask(mask, x.device, model.memory_format) if mask is not None else None
    out = [model.forward(params, buffers, fmask, x[i:i + chunk]) for i in range(0, len(x), chunk)]
    model.module.train()
    return torch.cat(out).float().cpu()
