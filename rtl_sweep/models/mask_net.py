"""A mask-estimation network for speech enhancement: waveform in, waveform out.

    python -c "from rtl_sweep.models.mask_net import MaskNet; import torch; m = MaskNet((8000,), 8000); print(m(torch.zeros(2, 8000)).shape)"

The STFT of the noisy waveform (128-point Hann window, hop 64) gives log-magnitudes [1, F, T];
three 3x3 convolutions (the prunable weights) and a 1x1 convolution (`classifier`, dense) estimate
a mask in (0, 1) per time-frequency bin; the masked complex STFT is inverted with the noisy phase.
No recurrence, so the model runs under functional_call with masks like every other model. It maps
waveforms [B, L] to waveforms [B, L], not images to logits, so it is not in models.MODELS (whose
members all take image-shaped inputs): task=speech builds it (model.name=mask_net).
"""

from __future__ import annotations

import torch
from torch import nn

N_FFT, HOP = 128, 64


class MaskNet(nn.Module):
    def __init__(self, input_shape: tuple[int, ...], num_outputs: int, width: int = 16):
        super().__init__()
        self.length = int(input_shape[-1])
        self.register_buffer("window", torch.hann_window(N_FFT), persistent=False)
        self.conv1 = nn.Conv2d(1, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)
        self.conv3 = nn.Conv2d(width, width, 3, padding=1)
        self.classifier = nn.Conv2d(width, 1, 1)

    def _spec(self, x):
        return torch.stft(x, N_FFT, HOP, window=self.window, return_complex=True)

    def _hidden(self, spec):
        h = torch.log1p(spec.abs()).unsqueeze(1)
        h = torch.relu(self.conv1(h))
        h = torch.relu(self.conv2(h))
        return torch.relu(self.conv3(h))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spec = self._spec(x)
        mask = torch.sigmoid(self.classifier(self._hidden(spec))).squeeze(1)
        return torch.istft(spec * mask, N_FFT, HOP, window=self.window, length=self.length)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self._hidden(self._spec(x)).mean((2, 3))

    def prunable_names(self) -> list[str]:
        return ["conv1.weight", "conv2.weight", "conv3.weight"]
