"""Models, each declaring its prunable weights: MLP, small CNN, truncated GhostNet, and the INR
coordinate networks SIREN and Fourier-feature MLP.

    python -c "from rtl_sweep.config import ModelConfig; from rtl_sweep.models import *; \
m = build_model(ModelConfig('cnn'), (1, 28, 28), 10); print(prunable_names(m))"

The contract every model keeps (the pruning, ticket and joint-retraining code relies on it):
- `forward(x) -> logits [B, num_outputs]` and `features(x) -> [B, F]` (the penultimate
  representation, used for k-means embeddings);
- `prunable_names() -> list[str]`: names as in `named_parameters()` of the conv and HIDDEN linear
  weights, in a stable order. Biases, batch norm, squeeze-excite and the final classifier (always
  the attribute `classifier`) stay dense (siren and fourier_mlp may opt in to pruning their first
  layer and classifier with prune_first / prune_last, both off by default);
- pure forward passes (no in-place ops on parameters, no state mutated in python), so the model
  runs under `torch.func.functional_call` and `torch.func.vmap` over stacked parameters.
Construction is deterministic given the torch seed.
"""

from __future__ import annotations

import inspect
from dataclasses import fields

from torch import nn

from rtl_sweep.config import ModelConfig
from rtl_sweep.errors import ConfigError
from rtl_sweep.models.cnn import SmallCNN
from rtl_sweep.models.fourier_mlp import FourierMLP
from rtl_sweep.models.ghostnet import TruncatedGhostNet
from rtl_sweep.models.mlp import MLP
from rtl_sweep.models.siren import Siren

# siren and fourier_mlp map pixel coordinates (input_shape (2,)) to colours; their `width` is the
# hidden units, not a base that the model scales (the figure INR papers quote).
MODELS: dict[str, type] = {"mlp": MLP, "cnn": SmallCNN, "ghostnet": TruncatedGhostNet,
                           "siren": Siren, "fourier_mlp": FourierMLP}

__all__ = ["MODELS", "build_model", "prunable_names", "FourierMLP", "MLP", "Siren", "SmallCNN",
           "TruncatedGhostNet"]


def build_model(cfg: ModelConfig, input_shape: tuple[int, ...], num_outputs: int) -> nn.Module:
    """Build `cfg.name` for inputs of `input_shape` (without the batch dim) and `num_outputs` logits."""
    cls = MODELS.get(cfg.name)
    if cls is None:
        raise ConfigError(f"model.name={cfg.name!r} is unknown",
                          f"use one of {', '.join(sorted(MODELS))}")
    if cfg.width < 1:
        raise ConfigError(f"model.width={cfg.width} must be >= 1", "use e.g. model.width=16")
    return cls(tuple(input_shape), num_outputs, width=cfg.width, **_options(cfg, cls))


def _options(cfg: ModelConfig, cls: type) -> dict:
    """The ModelConfig fields beyond name and width that `cls` takes (siren: depth, omega_0, ...).
    A field set away from its default for a model that does not take it is refused rather than
    silently ignored."""
    takes = set(inspect.signature(cls.__init__).parameters)
    out = {}
    for f in fields(cfg):
        if f.name in ("name", "width"):
            continue
        value = getattr(cfg, f.name)
        if f.name in takes:
            out[f.name] = value
        elif value != f.default:
            users = sorted(n for n, c in MODELS.items() if f.name in inspect.signature(c.__init__).parameters)
            raise ConfigError(f"model.{f.name}={value!r} does not apply to model.name={cfg.name}",
                              f"it is an option of {', '.join(users)}; leave it unset for {cfg.name}")
    return out


def prunable_names(model: nn.Module) -> list[str]:
    """The model's prunable weight names, in a stable order (see the module docstring)."""
    if not hasattr(model, "prunable_names"):
        raise ConfigError(f"{type(model).__name__} does not declare prunable_names()",
                          "build models with rtl_sweep.models.build_model")
    return list(model.prunable_names())
