"""A two-hidden-layer MLP on flattened input.

    python -c "from rtl_sweep.models.mlp import MLP; m = MLP((1, 28, 28), 10); print(m.prunable_names())"
"""

from __future__ import annotations

import math

import torch
from torch import nn


class MLP(nn.Module):
    """Flatten -> fc1 (width*16) ReLU -> fc2 (width*8) ReLU -> classifier.

    Prunable: the hidden linear weights `fc1.weight`, `fc2.weight`. Biases and the classifier
    stay dense. Accepts any input shape (it is flattened).
    """

    PRUNABLE = ("fc1.weight", "fc2.weight")

    def __init__(self, input_shape: tuple[int, ...], num_outputs: int, width: int = 16):
        super().__init__()
        flat = math.prod(input_shape)
        h1, h2 = width * 16, width * 8  # width=16 -> 256, 128
        self.fc1 = nn.Linear(flat, h1)
        self.fc2 = nn.Linear(h1, h2)
        self.classifier = nn.Linear(h2, num_outputs)

    def prunable_names(self) -> list[str]:
        return list(self.PRUNABLE)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.flatten(x, 1)
        return torch.relu(self.fc2(torch.relu(self.fc1(x))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))
