"""Dispatched torch operations per training step, fused stack vs one loop at a time: a figure that
does not depend on the device, so a CPU-only machine shows what a GPU's launch count will be.

    python -c "from rtl_sweep.bench.ops import ops_per_step; print(ops_per_step(10))"

A GPU runs small models launch-bound: every dispatched operation is at least one kernel launch.
The per-loop path dispatches a step's operations once per loop; a fused stack dispatches them once
for all its loops, so its count should not grow with K.
"""

from __future__ import annotations

from torch.utils._python_dispatch import TorchDispatchMode


class _Count(TorchDispatchMode):
    """Counts dispatched operations that compute (a kernel on a GPU); views (slices, reshapes)
    only change tensor metadata and launch nothing, so they are not counted."""

    def __init__(self):
        super().__init__()
        self.n = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.n += not func.is_view
        return func(*args, **(kwargs or {}))


def ops_per_step(K: int, model: str = "cnn", batch: int = 8, steps: int = 16) -> tuple[int, int]:
    """(operations of one step of K loops trained one after another, of one fused step of K),
    averaged over an epoch of `steps` steps (the epoch's shuffles are counted, spread over it)."""
    from rtl_sweep.config import RunConfig
    from rtl_sweep.context import build_context
    from rtl_sweep.loops import Loop, member
    from rtl_sweep.store import Store
    from rtl_sweep.training import new_state, train
    from rtl_sweep.pruning import rewind
    from rtl_sweep.vectorized import TicketStack, train_stack

    # K classes of synthetic data, one subset each; a loop's epoch: `steps` steps of `batch`
    cfg = RunConfig().with_overrides([
        "data.name=synthetic", "data.synthetic_shape=1,28,28", f"data.synthetic_classes={K}",
        f"data.synthetic_size={K * steps * batch}", "data.test_fraction=0.5", f"model.name={model}",
        f"prune.batch_size={batch}", "prune.epochs=1", "baselines=imp_single"])
    ctx = build_context(cfg, "cpu")
    store = Store("memory-unused")  # level 0 reads no checkpoint
    members = [member(ctx, store, Loop("rtl", k), 0) for k in range(K)]
    n = [len(m.target.epoch_batches(batch, 0)) for m in members]

    per_loop = _Count()
    for m in members:
        params, bufs = new_state(rewind(ctx.rewind_params, m.mask), ctx.rewind_buffers, ctx.device)
        with per_loop:
            train(ctx.model, params, bufs, m.mask, m.target, ctx.x_train, 1, 1e-3, batch, m.seed)
    fused = _Count()
    st = TicketStack.build(ctx.rewind_params, ctx.rewind_buffers, [m.mask for m in members], ctx.device)
    with fused:
        train_stack(ctx.model, st, [m.target for m in members], ctx.x_train, 1, 1e-3, batch,
                    [m.seed for m in members])
    return per_loop.n * K // sum(n), fused.n // max(n)
