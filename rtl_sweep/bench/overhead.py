"""rtl-sweep bench overhead: one ticket's prune-rewind loop, rtl_sweep's units vs a plain PyTorch loop.

    rtl-sweep bench overhead
    rtl-sweep bench overhead --overhead-epochs 1 --repeats 3

Both sides do the same work on the same tensors (data loaded once, outside the timing): the small
CNN of the bundled default, ticket 0's balanced one-vs-rest batches, Adam, every level rewound to
the init, global magnitude pruning to the engine's schedule, test logits per level. rtl_sweep's side
is the engine's own unit (`Unit('loop', level, 'rtl', 0)` per level, checkpoints written to a fresh
temporary run folder); the plain side is the textbook loop below (gradient and weight re-masking
after each step, state_dict rewinding). Goal: rtl_sweep / plain <= 1.10.
"""

from __future__ import annotations

import tempfile

import torch
import torch.nn.functional as F

from rtl_sweep.bench.common import row, side_by_side, threads

GOAL = 1.10


def configure(p) -> None:
    p.add_argument("--overhead-epochs", type=int, default=2, help="epochs per level (overhead)")
    p.add_argument("--overhead-target", type=float, default=0.875,
                   help="target sparsity (overhead): 0.875 = 4 levels at fraction 0.5")


def plain_prune_rewind(module, init: dict, prunable: list[str], kept: list[int], x: torch.Tensor,
                       x_test: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor, column: int,
                       epochs: int, lr: float, batch_size: int, seed: int) -> list[dict]:
    """The loop a PyTorch user would write: nn.Module, Adam, re-mask after every step."""
    params = dict(module.named_parameters())
    masks = {n: torch.ones_like(params[n]) for n in prunable}
    out = []
    for level, _ in enumerate(kept):
        module.load_state_dict(init)                       # rewind
        with torch.no_grad():
            for n, m in masks.items():
                params[n].mul_(m)
        opt = torch.optim.Adam(module.parameters(), lr=lr)
        g = torch.Generator().manual_seed(seed + level)
        module.train()
        for _ in range(epochs):
            n = len(pos)
            idx = torch.stack([pos[torch.randperm(n, generator=g)],
                               neg[torch.randperm(len(neg), generator=g)[:n]]], 1).flatten()
            tgt = torch.stack([torch.ones(n), torch.zeros(n)], 1).flatten()
            for i in range(0, len(idx), batch_size):
                loss = F.binary_cross_entropy_with_logits(module(x[idx[i:i + batch_size]])[:, column],
                                                          tgt[i:i + batch_size])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                for name, m in masks.items():
                    params[name].grad.mul_(m)
                opt.step()
                with torch.no_grad():                      # Adam momentum would revive pruned weights
                    for name, m in masks.items():
                        params[name].mul_(m)
        module.eval()
        with torch.no_grad():
            logits = module(x_test)
        if level + 1 < len(kept):                          # global magnitude pruning
            scores = torch.cat([torch.where(masks[n] > 0, params[n].detach().abs(), -1.0).flatten()
                                for n in prunable])
            keep = torch.zeros_like(scores)
            keep[torch.topk(scores, kept[level + 1]).indices] = 1.0
            start = 0
            for n in prunable:
                k = masks[n].numel()
                masks[n] = keep[start:start + k].view_as(masks[n])
                start += k
        out.append({"logits": logits})
    return out


def run(args) -> list[dict]:
    from rtl_sweep.config import RunConfig
    from rtl_sweep.context import build_context
    from rtl_sweep.store import Store
    from rtl_sweep.units import Unit, run_unit

    cfg = RunConfig().with_overrides([f"prune.epochs={args.overhead_epochs}",
                                      f"prune.target_sparsity={args.overhead_target}",
                                      "baselines=", "joint.epochs=0"])
    with threads(args.threads):
        ctx = build_context(cfg, "cpu")
        obj = ctx.task.ticket_target(ctx, 0)
        module = ctx.model.module
        init = {**ctx.init_params, **ctx.init_buffers}

        def rtl():
            with tempfile.TemporaryDirectory() as d:
                store = Store(d)
                for level in range(ctx.levels):
                    run_unit(ctx, store, Unit("loop", level, "rtl", 0))

        def plain():
            plain_prune_rewind(module, init, ctx.model.prunable, ctx.kept, ctx.x_train, ctx.x_test,
                               obj.positives, obj.negatives, 0, cfg.prune.epochs, cfg.prune.lr,
                               cfg.prune.batch_size, 0)

        rtl(), plain()  # warm-up: first-call allocations and lazy imports on neither side's clock
        ratio, a, b = side_by_side(rtl, plain, args.repeats)
        settings = {"data": cfg.data.name, "model": cfg.model.name, "ticket": 0, "levels": ctx.levels,
                    "epochs": cfg.prune.epochs, "batch_size": cfg.prune.batch_size,
                    "samples_per_epoch": 2 * len(obj.positives), "repeats": args.repeats,
                    "threads": args.threads}
        return [row("overhead", "rtl_sweep loop units / plain PyTorch loop (1 ticket)", ratio, a, b,
                    GOAL, settings)]
