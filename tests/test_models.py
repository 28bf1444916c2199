"""Models: prunable weights, shapes, determinism, functional_call and vmap."""

from __future__ import annotations

import copy

import pytest
import torch
from torch.func import functional_call, stack_module_state, vmap

from rtl_sweep.config import ModelConfig
from rtl_sweep.errors import ConfigError
from rtl_sweep.models import MODELS, build_model, prunable_names

MNIST, CIFAR = (1, 28, 28), (3, 32, 32)


def _build(name, shape=MNIST, out=10, seed=0):
    torch.manual_seed(seed)
    return build_model(ModelConfig(name=name), shape, out)


def _count(model):
    params = dict(model.named_parameters())
    return sum(params[n].numel() for n in prunable_names(model))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_prunable_names_are_weights_not_dense_parts(name):
    model = _build(name)
    names = prunable_names(model)
    params = dict(model.named_parameters())
    assert names and len(set(names)) == len(names)
    assert names == prunable_names(_build(name, seed=1))  # stable order
    for n in names:
        assert n in params and n.endswith(".weight")
        assert params[n].dim() >= 2  # excludes biases and batch norm
        assert not n.startswith("classifier") and ".se." not in n
        assert "bn" not in n.split(".")[-2]


def test_known_prunable_counts():
    cnn = _build("cnn")
    p = dict(cnn.named_parameters())
    assert {n: p[n].numel() for n in prunable_names(cnn)} == {
        "conv1.weight": 144, "conv2.weight": 4608, "fc1.weight": 32 * 7 * 7 * 64}
    mlp = _build("mlp")
    assert prunable_names(mlp) == ["fc1.weight", "fc2.weight"]
    assert _count(mlp) == 784 * 256 + 256 * 128


def test_ghostnet_prunable_count_near_paper():
    model = _build("ghostnet", CIFAR)
    # measured 125,832 on 3x32x32 (paper: "about 126K prunable conv weights")
    assert 120_000 <= _count(model) <= 132_000
    names = prunable_names(model)
    assert "conv_head.weight" in names and "conv_stem.weight" in names
    assert any("cheap_conv" in n for n in names) and any("conv_dw" in n for n in names)
    se = [n for n, _ in model.named_parameters() if ".se." in n]
    assert se and not set(se) & set(names)


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("shape", [MNIST, CIFAR])
def test_forward_and_features_shapes(name, shape):
    model = _build(name, shape, out=7).eval()
    x = torch.randn(4, *shape)
    assert model(x).shape == (4, 7)
    feats = model.features(x)
    assert feats.dim() == 2 and feats.shape[0] == 4


@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_small_digits_input(name):
    assert _build(name, (1, 8, 8))(torch.randn(2, 1, 8, 8)).shape == (2, 10)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_deterministic_given_seed(name):
    a, b = _build(name, seed=3).state_dict(), _build(name, seed=3).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_functional_call_with_masked_weights_matches_in_place(name):
    model = _build(name, CIFAR).eval()
    x = torch.randn(3, *CIFAR)
    g = torch.Generator().manual_seed(0)
    params = dict(model.named_parameters())
    masks = {n: (torch.rand(params[n].shape, generator=g) > 0.5).float()
             for n in prunable_names(model)}
    masked = {n: p * masks[n] if n in masks else p for n, p in params.items()}
    got = functional_call(model, {**masked, **dict(model.named_buffers())}, (x,))
    ref = copy.deepcopy(model)
    with torch.no_grad():
        for n, p in ref.named_parameters():
            if n in masks:
                p.mul_(masks[n])
    torch.testing.assert_close(got, ref(x))


@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_vmap_over_stacked_params_matches_separate_calls(name):
    models = [_build(name, seed=s) for s in range(3)]
    params, buffers = stack_module_state(models)
    base = copy.deepcopy(models[0]).to("meta")
    x = torch.randn(5, *MNIST)

    def call(p, b):
        return functional_call(base, {**p, **b}, (x,))

    got = vmap(call)(params, buffers)
    assert got.shape == (3, 5, 10)
    for i, m in enumerate(models):
        torch.testing.assert_close(got[i], m(x))


def test_ghostnet_vmap_after_batchnorm_replacement():
    models = [_build("ghostnet", CIFAR, seed=s) for s in range(2)]
    for m in models:
        torch.func.replace_all_batch_norm_modules_(m)
    params, buffers = stack_module_state(models)
    base = copy.deepcopy(models[0]).to("meta")
    x = torch.randn(2, *CIFAR)
    got = vmap(lambda p, b: functional_call(base, {**p, **b}, (x,)))(params, buffers)
    for i, m in enumerate(models):
        torch.testing.assert_close(got[i], m(x))


def test_unknown_model_lists_valid_names():
    with pytest.raises(ConfigError) as e:
        build_model(ModelConfig(name="resnet"), MNIST, 10)
    assert "resnet" in str(e.value) and all(n in str(e.value) for n in MODELS)
