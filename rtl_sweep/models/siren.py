"""SIREN (Sitzmann et al. 2020): a coordinate network with sine activations, for INR image fitting.

    python -c "from rtl_sweep.models.siren import Siren; m = Siren((2,), 3, width=64); \
print(m.prunable_names())"

sin(omega_0 * (W x + b)) in every hidden layer, a linear output, and the paper's initialisation
(first layer U(-1/in, 1/in); later layers U(-sqrt(6/in)/omega_0, +sqrt(6/in)/omega_0)), which keeps
activations spread evenly through depth. Biases keep torch's default init, as the reference code.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from rtl_sweep.models.coordinate import coordinate_prunable


class Siren(nn.Module):
    """first (in -> width) sin -> `depth` hidden (width -> width) sin -> classifier (width -> out).

    width: hidden units (the figure INR papers quote; SIREN's image fits use 256). depth: hidden
    layers after the first (the paper's image fits: 3). omega_0: frequency of every sine (30 in the
    paper: the first layer then spans ~30 periods over [-1, 1]). Inputs are flattened, so coordinates
    come as [B, 2] for input_shape (2,).
    Prunable: the hidden weights; `prune_first` / `prune_last` add the first layer's and the
    classifier's weights (both off by default: the paper's convention keeps input and output dense).
    """

    def __init__(self, input_shape: tuple[int, ...], num_outputs: int, width: int = 64,
                 depth: int = 3, omega_0: float = 30.0, prune_first: bool = False,
                 prune_last: bool = False):
        super().__init__()
        if depth < 1:
            from rtl_sweep.errors import ConfigError
            raise ConfigError(f"siren depth={depth} has no hidden layer to prune", "use depth >= 1")
        self.omega_0 = float(omega_0)
        self.prune_first, self.prune_last = prune_first, prune_last
        fan_in = math.prod(input_shape)
        self.first = nn.Linear(fan_in, width)
        self.hidden = nn.ModuleList(nn.Linear(width, width) for _ in range(depth))
        self.classifier = nn.Linear(width, num_outputs)
        with torch.no_grad():
            self.first.weight.uniform_(-1.0 / fan_in, 1.0 / fan_in)
            bound = math.sqrt(6.0 / width) / self.omega_0
            for layer in [*self.hidden, self.classifier]:  # the reference inits the output alike
                layer.weight.uniform_(-bound, bound)

    def prunable_names(self) -> list[str]:
        return coordinate_prunable(self)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.sin(self.omega_0 * self.first(torch.flatten(x, 1)))
        for layer in self.hidden:
            h = torch.sin(self.omega_0 * layer(h))
        return h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))
