"""Joint retraining (paper Algorithm 2): each ticket's step moves only its own weights."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from rtl_sweep.context import RunContext, build_context
from rtl_sweep.joint import joint_logits, joint_retrain
from rtl_sweep.pruning import Mask, union
from rtl_sweep.training import TicketModel

K2 = ["partition.method=groups", "partition.groups=0,1,2,3,4;5,6,7,8,9", "model.width=4",
      "data.max_per_class=20", "joint.epochs=2", "joint.lr=0.01"]




@pytest.fixture(scope="module")
def ctx() -> RunContext:
    from conftest import tiny_overrides
    from rtl_sweep.config import RunConfig
    c = build_context(RunConfig().with_overrides(tiny_overrides() + K2), "cpu")
    assert c.K == 2
    return c


def _with(ctx: RunContext, *overrides: str) -> RunContext:
    return dataclasses.replace(ctx, cfg=ctx.cfg.with_overrides(list(overrides)))


def _random_masks(ctx: RunContext, shares: tuple[float, ...], disjoint: bool, seed: int = 0) -> list[Mask]:
    """Masks over the prunable weights; disjoint ones split a random permutation, and about a
    fifth of each layer is left out of every mask (outside the union)."""
    g = torch.Generator().manual_seed(seed)
    masks: list[Mask] = [{} for _ in shares]
    for n in ctx.model.prunable:
        shape = ctx.init_params[n].shape
        numel = ctx.init_params[n].numel()
        if disjoint:
            perm = torch.randperm(numel, generator=g)
            start = 0
            for k, share in enumerate(shares):
                m = torch.zeros(numel, dtype=torch.bool)
                take = int(numel * share)
                m[perm[start:start + take]] = True
                start += take
                masks[k][n] = m.view(shape)
        else:
            for k, share in enumerate(shares):
                masks[k][n] = (torch.rand(numel, generator=g) < share).view(shape)
    return masks


class StepRecorder(TicketModel):
    """The real model, plus a note of which ticket's mask each forward pass used and how the
    prunable weights changed since the previous forward pass (= the previous ticket's step)."""

    def __init__(self, base: TicketModel, masks: list[Mask]):
        super().__init__(base.module, base.prunable)
        self.masks = masks
        self.steps: list[tuple[int, dict]] = []   # (ticket, changed positions) per optimizer step
        self._last: tuple[int, dict] | None = None

    def ticket_of(self, fmask: dict) -> int:
        hits = [k for k, m in enumerate(self.masks)
                if all(torch.equal(fmask[n].bool().cpu(), m[n]) for n in self.prunable)]
        assert len(hits) == 1, "a forward pass with a mask that is no ticket's"
        return hits[0]

    def close(self, params: dict) -> None:
        if self._last is not None:
            k, before = self._last
            self.steps.append((k, {n: params[n].detach() != before[n] for n in self.prunable}))

    def forward(self, params, buffers, mask, x):
        self.close(params)
        self._last = (self.ticket_of(mask), {n: params[n].detach().clone() for n in self.prunable})
        return super().forward(params, buffers, mask, x)


def test_sequential_changes_only_weights_inside_the_union(ctx):
    masks = _random_masks(ctx, (0.4, 0.4), disjoint=False)
    params, _ = joint_retrain(ctx, masks, level=1)
    u = union(masks)
    for n in ctx.model.prunable:
        after, start = params[n].detach().cpu(), ctx.rewind_params[n]
        assert bool((~u[n]).any())
        assert torch.equal(after[~u[n]], start[~u[n]]), n           # bit for bit outside the union
        assert (after[u[n]] != start[u[n]]).float().mean() > 0.5, n  # and trained inside it


def test_each_tickets_step_moves_only_weights_inside_its_mask(ctx):
    masks = _random_masks(ctx, (0.4, 0.4), disjoint=True)
    assert not any(bool((masks[0][n] & masks[1][n]).any()) for n in masks[0])
    rec = StepRecorder(ctx.model, masks)
    params, _ = joint_retrain(dataclasses.replace(ctx, model=rec), masks, level=1)
    rec.close(params)
    tickets = [k for k, _ in rec.steps]
    assert len(tickets) >= 8 and tickets == [i % 2 for i in range(len(tickets))]  # k in turn
    moved_in_own = 0
    for k, changed in rec.steps:
        for n in ctx.model.prunable:
            outside = changed[n] & ~masks[k][n]
            assert not bool(outside.any()), f"ticket {k}'s step moved {int(outside.sum())} weights of {n} it does not own"
            moved_in_own += int(changed[n].sum())
    assert moved_in_own > 0


def test_each_step_stays_inside_its_mask_with_overlapping_masks(ctx):
    # shared weights are updated by both tickets, but a step never leaves its own mask
    masks = _random_masks(ctx, (0.5, 0.5), disjoint=False, seed=1)
    rec = StepRecorder(ctx.model, masks)
    params, _ = joint_retrain(dataclasses.replace(_with(ctx, "joint.epochs=1"), model=rec), masks, 1)
    rec.close(params)
    assert {k for k, _ in rec.steps} == {0, 1}, "both tickets must have taken steps"
    for k, changed in rec.steps:
        assert not any(bool((changed[n] & ~masks[k][n]).any()) for n in ctx.model.prunable)


def test_joint_retraining_is_deterministic(ctx):
    masks = _random_masks(ctx, (0.4, 0.3), disjoint=False, seed=2)
    c = _with(ctx, "joint.epochs=1")
    a, _ = joint_retrain(c, masks, level=2)
    b, _ = joint_retrain(c, masks, level=2)
    assert all(torch.equal(a[n], b[n]) for n in a)


def test_summed_variant_runs_and_stays_inside_the_union(ctx):
    masks = _random_masks(ctx, (0.4, 0.4), disjoint=False, seed=3)
    summed, bufs = joint_retrain(_with(ctx, "joint.variant=summed"), masks, level=1)
    seq, _ = joint_retrain(ctx, masks, level=1)
    u = union(masks)
    for n in ctx.model.prunable:
        start = ctx.rewind_params[n]
        assert torch.equal(summed[n].detach()[~u[n]], start[~u[n]])
        assert bool(torch.isfinite(summed[n]).all())
    assert not all(torch.equal(summed[n], seq[n]) for n in seq)   # a different algorithm
    logits = joint_logits(ctx, summed, bufs, masks)
    assert len(logits) == 2 and all(lg.shape == (len(ctx.x_test), ctx.num_outputs) for lg in logits)
    assert all(bool(torch.isfinite(lg).all()) for lg in logits)


def test_zero_epochs_returns_the_rewind_point(ctx):
    masks = _random_masks(ctx, (0.4, 0.4), disjoint=False)
    params, _ = joint_retrain(_with(ctx, "joint.epochs=0"), masks, level=1)
    assert all(torch.equal(params[n].detach(), ctx.rewind_params[n]) for n in params)


def test_compiled_forward_keeps_the_masks_and_the_result(ctx):
    """joint.compile: torch.compile's kernels sum in another order, so the check is the method's:
    weights outside the union stay bit for bit at the rewind point, and the training moves inside it
    agree with eager ones relative to their size (the bound of tests/test_vectorized.py)."""
    from torch._dynamo.utils import counters
    masks = _random_masks(ctx, (0.4, 0.4), disjoint=False, seed=4)
    c = _with(ctx, "joint.epochs=1")
    eager, _ = joint_retrain(c, masks, level=1)
    torch._dynamo.reset()
    graphs = counters["stats"]["unique_graphs"]
    compiled, _ = joint_retrain(_with(c, "joint.compile=default"), masks, level=1)
    assert counters["stats"]["unique_graphs"] > graphs  # compiled indeed, not eager under another name
    u = union(masks)
    for n in ctx.model.prunable:
        start = ctx.rewind_params[n]
        assert torch.equal(compiled[n].detach()[~u[n]], start[~u[n]]), n
        d_eager, d_comp = eager[n].detach() - start, compiled[n].detach() - start
        assert float((d_comp - d_eager).norm() / d_eager.norm()) <= 1e-2, n
