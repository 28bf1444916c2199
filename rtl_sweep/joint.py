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

import torch

from rtl_sweep.context import RunContext
from rtl_sweep.pruning import Mask
from rtl_sweep.training import derive_seed, float_mask, new_state, predict_logits


def joint_retrain(ctx: RunContext, masks: list[Mask], level: int) -> tuple[dict, dict]:
    cfg = ctx.cfg
    params, bufs = new_state(ctx.rewind_params, ctx.rewind_buffers, ctx.device)
    fmasks = [float_mask(m, ctx.device) for m in masks]
    objectives = [ctx.ticket_objective(k) for k in range(ctx.K)]
    if cfg.joint.variant == "sequential":
        opts = [torch.optim.Adam(params.values(), lr=cfg.joint.lr) for _ in range(ctx.K)]
    else:
        opts = [torch.optim.Adam(params.values(), lr=cfg.joint.lr)]
    ctx.model.module.train()
    for epoch in range(cfg.joint.epochs):
        batches = [obj.epoch_batches(cfg.prune.batch_size, derive_seed(cfg.seed, "joint", level, k, epoch))
                   for k, obj in enumerate(objectives)]
        M = max(len(b) for b in batches)
        for m in range(M):
            if cfg.joint.variant == "sequential":
                for k in range(ctx.K):
                    idx, tgt = batches[k][m % len(batches[k])]
                    _backward(ctx, params, bufs, fmasks[k], objectives[k], idx, tgt, opts[k])
                    opts[k].step()
            else:
                opts[0].zero_grad(set_to_none=True)
                for k in range(ctx.K):
                    idx, tgt = batches[k][m % len(batches[k])]
                    _backward(ctx, params, bufs, fmasks[k], objectives[k], idx, tgt, None)
                opts[0].step()
    return params, bufs


def _backward(ctx, params, bufs, fmask, obj, idx, tgt, opt) -> None:
    if opt is not None:
        opt.zero_grad(set_to_none=True)
    xb = ctx.x_train.index_select(0, idx.to(ctx.device))
    loss = obj.loss(ctx.model.forward(params, bufs, fmask, xb), tgt.to(ctx.device))
    loss.backward()


def joint_logits(ctx: RunContext, params: dict, bufs: dict, masks: list[Mask]) -> list[torch.Tensor]:
    """Test-set logits of every ticket through the shared weights."""
    return [predict_logits(ctx.model, params, bufs, m, ctx.x_test) for m in masks]
