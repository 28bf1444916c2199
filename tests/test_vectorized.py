"""Vectorized tickets (rtl_sweep/vectorized.py) against the sequential loop they replace.

    python -m pytest tests/test_vectorized.py -q

Equivalence criterion. The vmapped pass sums in another order than K separate passes, and the
CPU's vector width (ATen's kernels, oneDNN's convolutions, MKL's products) changes the order again,
so trained weights differ in the last bits, and Adam amplifies that: its first steps move every
weight by about lr * sign(gradient), so a weight whose gradient sums to nearly zero can step the
other way on one path (seen: 6 of 4,608 conv weights 0.26 lr apart after two epochs). What RTL needs,
and what holds on any x86 CPU, per ticket:
  - pruned weights stay exactly zero (a mask, not a float: exact by construction),
  - the masks after pruning have Jaccard > 0.99 with the sequential loop's,
  - the training moves agree relative to their size: |dW_vec - dW_seq| / |dW_seq| <= 1e-2 over all
    of a ticket's weights, where dW is the change from the rewound start. Measured worst 1.1e-3
    (ragged groups) under the default ISA, ATEN_CPU_CAPABILITY=default, ONEDNN_MAX_CPU_ISA=AVX2 with
    MKL_CBWR=COMPATIBLE, and ONEDNN_MAX_CPU_ISA=SSE41; a real fault is far above it (a ticket fed
    another ticket's batches: 0.33 to 0.43),
  - RTL balanced accuracy of a whole run agrees within 0.02.
StackedAdam alone is checked against K torch.optim.Adam element-wise to rtol 1e-6: one step on
given gradients, the same op order, nothing to amplify (only the bias-correction scalars round
differently).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import tiny_overrides

from rtl_sweep.config import RunConfig
from rtl_sweep.context import build_context
from rtl_sweep.engine import Run
from rtl_sweep.errors import ConfigError
from rtl_sweep.joint import joint_logits
from rtl_sweep.pruning import ones_mask, prune, rewind
from rtl_sweep.loops import Loop, loop_epochs, target
from rtl_sweep.training import derive_seed, new_state, predict_logits, train
from rtl_sweep.units import wave
from rtl_sweep.vectorized import (StackedAdam, TicketStack, joint_logits_vectorized,
                                  predict_logits_vectorized, train_tickets_vectorized)

ENGINE = tiny_overrides() + ["model.width=8", "data.max_per_class=40", "prune.target_sparsity=0.75",
                             "prune.lr=0.005", "joint.lr=0.005", "baselines=imp_single"]
RAGGED = ["partition.method=groups", "partition.groups=0,1,2;3;4,5,6,7,8,9"]  # 144 / 48 / 288 samples


@pytest.fixture(autouse=True)
def deterministic():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    yield
    torch.use_deterministic_algorithms(False)
    torch.set_num_threads(before)


def _jaccard(a: dict, b: dict) -> float:
    inter = sum(int((a[n] & b[n]).sum()) for n in a)
    return inter / max(sum(int((a[n] | b[n]).sum()) for n in a), 1)


def _relative_move_gap(ctx, mask: dict, a: dict, b: dict) -> float:
    """|dA - dB| / |dB| over all weights, dX being the change from the (masked) rewound start."""
    gap = size = 0.0
    for n in b:
        start = ctx.rewind_params[n] * mask[n] if n in mask else ctx.rewind_params[n]
        gap += float((a[n] - b[n]).square().sum())
        size += float((b[n] - start).square().sum())
    return (gap / size) ** 0.5


def _sequential(ctx, loops, masks, seeds):
    cfg, out = ctx.cfg, []
    for lp, m, s in zip(loops, masks, seeds):
        p, b = new_state(rewind(ctx.rewind_params, m), ctx.rewind_buffers, ctx.device)
        train(ctx.model, p, b, m, target(ctx, lp), ctx.x_train, loop_epochs(ctx, lp), cfg.prune.lr,
              cfg.prune.batch_size, s)
        out.append({n: x.detach() for n, x in p.items()})
    return out


def test_stacked_adam_equals_k_adams():
    torch.manual_seed(0)
    K, shapes = 4, [(3, 5), (7,)]
    start = [torch.randn(K, *s) for s in shapes]
    stacked = [p.clone().requires_grad_(True) for p in start]
    singles = [[p[k].clone().requires_grad_(True) for p in start] for k in range(K)]
    sopt = StackedAdam(stacked, lr=1e-2)
    opts = [torch.optim.Adam(ps, lr=1e-2) for ps in singles]
    for it in range(6):
        rows = None if it % 3 else torch.tensor([True, False, True, it > 2])  # ragged steps
        grads = [torch.randn(K, *s) for s in shapes]
        for p, g in zip(stacked, grads):
            p.grad = g.clone()
        sopt.step(rows)
        for k in range(K):
            if rows is None or rows[k]:
                for p, g in zip(singles[k], grads):
                    p.grad = g[k].clone()
                opts[k].step()
    for k in range(K):
        for p, q in zip(stacked, singles[k]):
            torch.testing.assert_close(p[k].detach(), q.detach(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("extra", [[], RAGGED], ids=["class", "ragged-groups"])
def test_vectorized_equals_sequential(extra):
    cfg = RunConfig().with_overrides(tiny_overrides() + extra + ["prune.epochs=2"])
    ctx = build_context(cfg, "cpu")
    loops = [Loop("rtl", k) for k in range(ctx.K)]
    full = ones_mask(ctx.init_params, ctx.model.prunable)
    # level 1 masks: random 50% masks, so the vectorized pass runs through masked weights
    g = torch.Generator().manual_seed(1)
    masks = [{n: torch.rand(m.shape, generator=g) < 0.5 for n, m in full.items()} for _ in loops]
    seeds = [derive_seed(cfg.seed, str(lp), "level", 1) for lp in loops]
    vec = train_tickets_vectorized(ctx, loops, 1, masks, loop_epochs(ctx, loops[0]), cfg.prune.lr,
                                   cfg.prune.batch_size, seeds)
    seq = _sequential(ctx, loops, masks, seeds)
    for k in range(ctx.K):
        for n in ctx.model.prunable:
            assert torch.all(vec[k][n][~masks[k][n]] == 0), f"pruned weight of {n} moved"
        assert _relative_move_gap(ctx, masks[k], vec[k], seq[k]) <= 1e-2, k  # see the docstring
        keep = ctx.kept[2]
        assert _jaccard(prune(masks[k], vec[k], keep), prune(masks[k], seq[k], keep)) > 0.99


def test_vectorized_prediction_and_joint_logits():
    cfg = RunConfig().with_overrides(tiny_overrides())
    ctx = build_context(cfg, "cpu")
    g = torch.Generator().manual_seed(2)
    full = ones_mask(ctx.init_params, ctx.model.prunable)
    masks = [{n: torch.rand(m.shape, generator=g) < 0.6 for n, m in full.items()} for _ in range(3)]
    st = TicketStack.build(ctx.init_params, ctx.init_buffers, masks, ctx.device)
    vec = predict_logits_vectorized(ctx.model, st.params, st.buffers, st.masks, ctx.x_test)
    for k, m in enumerate(masks):
        p, b = new_state(rewind(ctx.init_params, m), ctx.init_buffers, ctx.device)
        torch.testing.assert_close(vec[k], predict_logits(ctx.model, p, b, m, ctx.x_test),
                                   atol=1e-5, rtol=1e-5)
    p, b = new_state(ctx.init_params, ctx.init_buffers, ctx.device)
    for a, c in zip(joint_logits_vectorized(ctx, p, b, masks), joint_logits(ctx, p, b, masks)):
        torch.testing.assert_close(a, c, atol=1e-5, rtol=1e-5)


def _rtl(folder: Path) -> dict:
    import pyarrow.parquet as pq
    rows = [r for f in sorted((folder / "tables" / "rounds").glob("*.parquet"))
            for r in pq.ParquetFile(f).read().to_pylist()]
    return {r["level"]: r for r in rows if r["method"] == "rtl_tickets" and r["ticket"] == -1}


def test_run_with_vectorize_on_matches_off(tmp_path):
    off = Run(RunConfig().with_overrides(ENGINE), str(tmp_path / "off"), device="cpu")
    on = Run(RunConfig().with_overrides(ENGINE + ["prune.vectorize=on"]), str(tmp_path / "on"),
             device="cpu")
    assert [u.kind for u in wave(on.ctx, 0)][0] == "tickets"
    assert not any(u.kind == "tickets" for u in wave(off.ctx, 0))
    off.execute()
    on.execute()
    a, b = Path(off.store.path()), Path(on.store.path())
    ca = {p.relative_to(a): torch.load(p, weights_only=True) for p in a.glob("ckpt/rtl-*/L*.pt")}
    cb = {p.relative_to(b): torch.load(p, weights_only=True) for p in b.glob("ckpt/rtl-*/L*.pt")}
    assert set(ca) == set(cb) and ca
    for rel in ca:
        assert set(ca[rel]) == set(cb[rel])  # identical keys
        for key in ("mask", "next_mask"):
            if key in ca[rel]:
                assert _jaccard(ca[rel][key], cb[rel][key]) > 0.99, (rel, key)
    ra, rb = _rtl(a), _rtl(b)
    assert set(ra) == set(rb)
    for level in ra:
        assert abs(ra[level]["balanced_accuracy"] - rb[level]["balanced_accuracy"]) <= 0.02
        assert rb[level]["wall_s"] > 0
    # rerun: every unit is skipped, the tickets unit included
    again = Run(RunConfig().with_overrides(ENGINE + ["prune.vectorize=on"]), str(tmp_path / "on"),
                device="cpu")
    from rtl_sweep.units import run_unit
    assert all(run_unit(again.ctx, again.store, u) == 0.0 for s in range(again.ctx.levels + 1)
               for u in wave(again.ctx, s))


def test_vectorize_config():
    assert RunConfig().with_overrides(["prune.vectorize=off"]).hash() == RunConfig().hash()
    with pytest.raises(ConfigError, match="prune.vectorize"):
        RunConfig().with_overrides(["prune.vectorize=yes"]).validate()
    ctx = build_context(RunConfig().with_overrides(tiny_overrides() + ["prune.vectorize=auto"]), "cpu")
    assert not any(u.kind == "tickets" for u in wave(ctx, 0))  # auto: off on CPU
