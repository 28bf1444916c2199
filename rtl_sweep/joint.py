"""Joint retraining through all masks (the paper's Algorithm 2). Pure torch, no Ray.

    python -c "import rtl_sweep.joint as j; help(j.joint_retrain)"

Masks fixed, start from the rewind point. Each subset's epoch is cut into mini-batches; smaller
subsets repeat theirs cyclically so every subset has M = max_k M_k batches. For each batch index m
and each ticket k in turn, one optimizer step on the shared weights with ticket k's loss on its
batch m. Each ticket keeps its OWN Adam state: a shared state would carry momentum from other
tickets into weights outside m_k, so ticket k's step would move weights it does not own.

Batch norm (GhostNet): its weights are shared dense parameters like the classifier, and its running
statistics are one set too, updated by every ticket's forward pass; each ticket is evaluated with
those shared statistics. That is our reading of "batch-norm stays dense"; per-ticket statistics
would be extra per-ticket state the paper does not describe. The small CNN and MLP have none.

variant='summed' (a different algorithm, offered as a named option): per batch index, the K
masked gradients are summed and one shared Adam step is taken.
"""

from __future__ import annotations

import os

import torch

from rtl_sweep import methods
from rtl_sweep.context import RunContext
from rtl_sweep.pruning import Mask, union
from rtl_sweep.serialize import tensor_bytes
from rtl_sweep.store import Store
from rtl_sweep.training import derive_seed, float_mask, new_state, predict_logits


def joint_retrain(ctx: RunContext, masks: list[Mask], level: int) -> tuple[dict, dict]:
    cfg = ctx.cfg
    params, bufs = new_state(ctx.rewind_params, ctx.rewind_buffers, ctx.device, ctx.model.memory_format)
    fmasks = [float_mask(m, ctx.device, ctx.model.memory_format) for m in masks]
    targets = [ctx.task.ticket_target(ctx, k) for k in range(ctx.K)]
    # On CUDA one fused kernel per Adam step (the sequential algorithm takes K steps per batch
    # index, so launches dominate); on CPU torch's default, which the reference runs used.
    fused = ctx.device.type == "cuda"
    n_opts = ctx.K if cfg.joint.variant == "sequential" else 1
    forward = compiled(ctx.model.forward, cfg.joint.compile, ctx.device)
    opts = [torch.optim.Adam(params.values(), lr=cfg.joint.lr, fused=fused or None) for _ in range(n_opts)]
    ctx.model.module.train()
    for epoch in range(methods.joint_epochs(cfg)):
        batches = [on_device(obj.epoch_batches(cfg.prune.batch_size,
                                               derive_seed(cfg.seed, "joint", level, k, epoch)), ctx.device)
                   for k, obj in enumerate(targets)]
        M = max(len(b) for b in batches)
        for m in range(M):
            if cfg.joint.variant == "sequential":
                for k in range(ctx.K):
                    idx, tgt = batches[k][m % len(batches[k])]
                    _backward(ctx, forward, params, bufs, fmasks[k], targets[k], idx, tgt, opts[k])
                    opts[k].step()
            else:
                opts[0].zero_grad(set_to_none=True)
                for k in range(ctx.K):
                    idx, tgt = batches[k][m % len(batches[k])]
                    _backward(ctx, forward, params, bufs, fmasks[k], targets[k], idx, tgt, None)
                opts[0].step()
    return params, bufs


def on_device(batches: list[tuple[torch.Tensor, torch.Tensor]], device: torch.device) -> list:
    """An epoch's (indices, targets) batches moved to the device in one copy each: the steps then
    slice views there, with no host-to-device copy (and no wait) inside the epoch."""
    if device.type == "cpu":
        return batches
    sizes = [len(i) for i, _ in batches]
    idx = torch.cat([i for i, _ in batches]).to(device, non_blocking=True)
    tgt = torch.cat([t for _, t in batches]).to(device, non_blocking=True)
    return list(zip(idx.split(sizes), tgt.split(sizes)))


def compiled(forward, mode: str, device: torch.device):
    """`forward` under torch.compile (`joint.compile`), or itself when off. Only the masked forward
    is compiled: its graph is the same for every ticket (the masks are inputs), where a compiled
    loss would be traced again per ticket (each detector reads its own output column). The compiled
    forward's backward is compiled with it. The batch size is left to torch's default (static,
    then dynamic at the first new size): each ticket's last batch of an epoch has its own size, and
    a graph per size would pass torch's recompile limit at K = 10."""
    if mode == "off":
        return forward
    if device.type == "cpu" and os.environ.get("ATEN_CPU_CAPABILITY") == "default":
        # ATen without its vector kernels (the setting CPU-independence checks use): inductor still
        # writes at::vec code, which then fails to compile (torch 2.14); scalar code compiles.
        return torch.compile(forward, options={"cpp.simdlen": 0})
    return torch.compile(forward, mode=mode)


def _backward(ctx, forward, params, bufs, fmask, obj, idx, tgt, opt) -> None:
    if opt is not None:
        opt.zero_grad(set_to_none=True)
    xb = ctx.x_train.index_select(0, idx.to(ctx.device))
    with torch.autocast(ctx.device.type, dtype=torch.bfloat16, enabled=ctx.cfg.precision == "bf16"):
        out = forward(params, bufs, fmask, xb)
    loss = obj.loss(out.float(), tgt.to(ctx.device))
    loss.backward()


def joint_logits(ctx: RunContext, params: dict, bufs: dict, masks: list[Mask]) -> list[torch.Tensor]:
    """Test-set logits of every ticket through the shared weights."""
    return [predict_logits(ctx.model, params, bufs, m, ctx.x_test) for m in masks]


def run_joint(ctx: RunContext, store: Store, masks: list[Mask], level: int, rel: str) -> None:
    """The joint-retraining unit of `level`: retrain through `masks` and write the shared weights
    (zero outside the union), every ticket's test outputs and the masks to `rel`."""
    params, bufs = joint_retrain(ctx, masks, level)
    u = union(masks)
    cpu = {n: p.detach().cpu().contiguous() for n, p in params.items()}  # files keep one layout
    shared = {n: (p * u[n] if n in u else p) for n, p in cpu.items()}
    out = {"logits": joint_logits(ctx, params, bufs, masks), "masks": masks, "shared": shared,
           "buffers": {n: b.cpu() for n, b in bufs.items()}}
    store.write_bytes(rel, tensor_bytes(out))
