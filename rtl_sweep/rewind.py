"""The rewind point every loop restarts from: the shared init (the paper), or a late-rewind step.

    rtl-sweep run --set prune.rewind_step=50
"""

from __future__ import annotations

import torch

from rtl_sweep.training import derive_seed, new_state, step


def late_rewind_point(ctx) -> tuple[dict, dict]:
    """Late rewinding with ONE shared rewind point: the dense model trained on all data (the single
    model's target) for `prune.rewind_step` steps, so every ticket still shares its start."""
    cfg = ctx.cfg
    params, bufs = new_state(ctx.init_params, ctx.init_buffers, ctx.device, ctx.model.memory_format)
    target = ctx.task.single_target(ctx)
    opt = torch.optim.Adam(params.values(), lr=cfg.prune.lr)
    steps, epoch = 0, 0
    while steps < cfg.prune.rewind_step:
        for idx, tgt in target.epoch_batches(cfg.prune.batch_size, derive_seed(cfg.seed, "rewind", epoch)):
            step(ctx.model, params, bufs, None, target, ctx.x_train, idx, tgt, opt)
            steps += 1
            if steps >= cfg.prune.rewind_step:
                break
        epoch += 1
    return ({n: p.detach().cpu().contiguous().clone() for n, p in params.items()},
            {n: b.detach().cpu().clone() for n, b in bufs.items()})
