"""A ReLU MLP on random Fourier features (Tancik et al. 2020), the other standard INR network.

    python -c "from rtl_sweep.models.fourier_mlp import FourierMLP; m = FourierMLP((2,), 3, width=64); \
print(m.prunable_names(), m.B.shape)"

gamma(v) = [cos(2 pi B v), sin(2 pi B v)] with B ~ N(0, sigma^2) lifts a coordinate into many
frequencies, which a plain ReLU MLP cannot fit on its own (its spectral bias). B is a buffer drawn
from the torch seed at construction: fixed, never trained, never pruned, and shared by every ticket.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from rtl_sweep.models.coordinate import coordinate_prunable


class FourierMLP(nn.Module):
    """gamma(x) (2*features) -> first (width) ReLU -> `depth` hidden (width) ReLU -> classifier.

    features: number of random frequencies (rows of B). sigma: their standard deviation, for
    coordinates in [-1, 1] (Tancik et al. use 10 on [0, 1], which is 5 here; larger fits finer detail
    and, past the image's own detail, noise). width, depth, prune_first, prune_last: as in Siren.
    Prunable: the hidden weights, plus the first / classifier weights when asked (off by default).
    """

    def __init__(self, input_shape: tuple[int, ...], num_outputs: int, width: int = 64,
                 depth: int = 3, features: int = 128, sigma: float = 5.0,
                 prune_first: bool = False, prune_last: bool = False):
        super().__init__()
        if depth < 1:
            from rtl_sweep.errors import ConfigError
            raise ConfigError(f"fourier_mlp depth={depth} has no hidden layer to prune",
                              "use depth >= 1")
        self.prune_first, self.prune_last = prune_first, prune_last
        # Drawn before the layers so B depends on the seed alone, not on the layer sizes.
        self.register_buffer("B", sigma * torch.randn(features, math.prod(input_shape)))
        self.first = nn.Linear(2 * features, width)
        self.hidden = nn.ModuleList(nn.Linear(width, width) for _ in range(depth))
        self.classifier = nn.Linear(width, num_outputs)

    def prunable_names(self) -> list[str]:
        return coordinate_prunable(self)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """gamma(x): [B, 2*features]."""
        proj = 2.0 * math.pi * torch.flatten(x, 1) @ self.B.T
        return torch.cat([torch.cos(proj), torch.sin(proj)], dim=1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.first(self.encode(x)))
        for layer in self.hidden:
            h = torch.relu(layer(h))
        return h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))
