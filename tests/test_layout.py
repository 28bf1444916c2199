"""memory_format=channels_last (conv models in NHWC) against the contiguous default.

    python -m pytest tests/test_layout.py -q

The convolutions sum in another order in NHWC, so the check is the one the fused levels get
(tests/test_fused.py): masks at the first pruned level with Jaccard >= 0.99, balanced accuracy
within 0.5 point (or one test sample's weight) at every level, and files in today's layout.
"""

from __future__ import annotations

import pytest
import torch
from test_fused import MODELS, _ckpts, _jaccard, _one_sample, _rounds, _run

from rtl_sweep.config import RunConfig
from rtl_sweep.context import build_context
from rtl_sweep.errors import ConfigError
from rtl_sweep.predict import load_run
from rtl_sweep.training import float_mask, new_state, nhwc_strides


@pytest.mark.parametrize("model", ["cnn", "ghostnet"])
def test_channels_last_matches_contiguous(model, tmp_path):
    dense = _run(tmp_path / "contiguous", MODELS[model])
    nhwc = _run(tmp_path / "nhwc", MODELS[model] + ["memory_format=channels_last"])
    ca, cb = _ckpts(dense), _ckpts(nhwc)
    assert set(ca) == set(cb)
    for rel in (k for k in ca if k.endswith("/L1.pt") and "mask" in ca[k]):
        assert _jaccard(ca[rel]["mask"], cb[rel]["mask"]) >= 0.99, rel
    weights = 0
    for rel, ck in cb.items():  # checkpoints keep one layout whatever the run's
        for key in ("trained", "shared", "buffers", "mask", "next_mask"):
            for name, t in ck.get(key, {}).items():
                assert t.is_contiguous(), (rel, key, name, t.stride())
                weights += key in ("trained", "shared") and t.dim() == 4
    assert weights > 0
    loaded = load_run(str(nhwc))  # predictions from the contiguous files, in the run's layout
    joint = cb[f"ckpt/joint/L{loaded.level}.pt"]["logits"]
    for got, want in zip(loaded.outputs(loaded.ctx.x_test), joint, strict=True):
        torch.testing.assert_close(got, want)
    ra, rb = _rounds(dense), _rounds(nhwc)
    assert set(ra) == set(rb)
    tolerance = max(0.005, _one_sample(dense)) + 1e-9
    for key in ra:
        assert abs(ra[key]["balanced_accuracy"] - rb[key]["balanced_accuracy"]) <= tolerance, key


@pytest.mark.parametrize("model, channels", [("cnn", 1), ("cnn", 3), ("ghostnet", 1), ("ghostnet", 3)])
def test_every_convolution_runs_nhwc(model, channels):
    """One channel too (MNIST, and GhostNet's depthwise and 1x1 weights): there NCHW strides pass
    torch's channels_last test, and only laying the strides out for real makes the conv run NHWC.
    Synthetic inputs: only the layout is checked, no score."""
    cfg = RunConfig().with_overrides(["data.name=synthetic", "data.synthetic_size=40",
                                      f"data.synthetic_shape={channels},16,16", f"model.name={model}",
                                      "model.width=4", "memory_format=channels_last"])
    ctx = build_context(cfg, "cpu")
    seen = []
    convs = [m for m in ctx.model.module.modules() if isinstance(m, torch.nn.Conv2d)]
    hooks = [c.register_forward_hook(lambda mod, inp, out: seen.append(out)) for c in convs]
    params, bufs = new_state(ctx.init_params, ctx.init_buffers, ctx.device, ctx.model.memory_format)
    mask = {n: torch.ones_like(ctx.init_params[n], dtype=torch.bool) for n in ctx.model.prunable}
    assert all(p.stride() == nhwc_strides(p.shape) for p in params.values() if p.dim() == 4)
    ctx.model.forward(params, bufs, float_mask(mask, ctx.device, ctx.model.memory_format), ctx.x_train[:8])
    for h in hooks:
        h.remove()
    assert len(seen) == len(convs) >= 2
    # A conv that ran NCHW returns NCHW strides. Where the output's shape makes both layouts the
    # same strides (one channel, or one pixel) there is nothing to tell.
    told = [o for o in seen if o.shape[1] > 1 and o.shape[2] * o.shape[3] > 1]
    assert told and all(o.stride() == nhwc_strides(o.shape) for o in told)


def test_channels_last_is_refused_without_convolutions():
    with pytest.raises(ConfigError, match="needs a conv model"):
        build_context(RunConfig().with_overrides(MODELS["mlp"] + ["memory_format=channels_last"]), "cpu")
    with pytest.raises(ConfigError, match="memory_format"):
        RunConfig().with_overrides(["memory_format=nhwc"]).validate()
