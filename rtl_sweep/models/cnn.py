"""The small CNN: two conv+pool blocks, one hidden linear layer, a dense classifier.

    python -c "from rtl_sweep.models.cnn import SmallCNN; print(SmallCNN((1, 28, 28), 10).prunable_names())"
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class SmallCNN(nn.Module):
    """conv(in, w) ReLU pool2 -> conv(w, 2w) ReLU pool2 -> fc1 (4w) ReLU -> classifier.

    Sized for 28x28 MNIST, 8x8 digits (pooled to 2x2) and 32x32 CIFAR. No batch norm, so joint
    retraining through several masks has no shared running statistics to fight over.
    Prunable: `conv1.weight`, `conv2.weight`, `fc1.weight`; biases and the classifier stay dense.
    """

    PRUNABLE = ("conv1.weight", "conv2.weight", "fc1.weight")

    def __init__(self, input_shape: tuple[int, ...], num_outputs: int, width: int = 16):
        super().__init__()
        if len(input_shape) != 3:
            from rtl_sweep.errors import ConfigError
            raise ConfigError(f"cnn needs a (C, H, W) input shape, got {tuple(input_shape)}",
                              "use model.name=mlp for flat features")
        self.conv1 = nn.Conv2d(input_shape[0], width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, 2 * width, 3, padding=1)
        with torch.no_grad():  # dry run: the flat size for any input that survives two pools
            flat = self._conv_features(torch.zeros(1, *input_shape)).shape[1]
        self.fc1 = nn.Linear(flat, 4 * width)
        self.classifier = nn.Linear(4 * width, num_outputs)

    def prunable_names(self) -> list[str]:
        return list(self.PRUNABLE)

    def _conv_features(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = F.max_pool2d(torch.relu(self.conv2(x)), 2)
        return torch.flatten(x, 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.fc1(self._conv_features(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))
