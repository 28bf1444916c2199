"""The paper's truncated GhostNet-1.0: stem, the first 9 Ghost bottlenecks, 1x1 conv 80->184,
global pool, a 184->128 head, a linear classifier.

    python -c "from rtl_sweep.models.ghostnet import TruncatedGhostNet as G; m = G((3, 32, 32), 10); \
print(sum(dict(m.named_parameters())[n].numel() for n in m.prunable_names()))"

Follows the GhostNet reference layout (Han et al. 2020): Ghost module = primary conv producing
ceil(out/2) channels + a cheap depthwise 3x3 conv producing the rest; bottlenecks with a
depthwise strided conv when stride > 1, optional squeeze-excite, and a depthwise+pointwise
shortcut when the shape changes. In-place ops are avoided so the model runs under
torch.func.functional_call and vmap.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

# [kernel, expansion, out, se_ratio, stride]: the first 9 bottlenecks of GhostNet-1.0
GHOST_CFGS = (
    (3, 16, 16, 0.0, 1),
    (3, 48, 24, 0.0, 2),
    (3, 72, 24, 0.0, 1),
    (5, 72, 40, 0.25, 2),
    (5, 120, 40, 0.25, 1),
    (3, 240, 80, 0.0, 2),
    (3, 200, 80, 0.0, 1),
    (3, 184, 80, 0.0, 1),
    (3, 184, 80, 0.0, 1),
)


def _make_divisible(v: float, divisor: int = 4) -> int:
    """Round to a multiple of divisor without dropping more than 10% (the reference's rule)."""
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


class SqueezeExcite(nn.Module):
    """Channel gate; its convs stay dense (not prunable)."""

    def __init__(self, chs: int, se_ratio: float = 0.25):
        super().__init__()
        reduced = _make_divisible(chs * se_ratio, 4)
        self.conv_reduce = nn.Conv2d(chs, reduced, 1, bias=True)
        self.conv_expand = nn.Conv2d(reduced, chs, 1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = F.adaptive_avg_pool2d(x, 1)
        s = self.conv_expand(torch.relu(self.conv_reduce(s)))
        return x * (F.relu6(s + 3.0) / 6.0)  # hard sigmoid, as in the reference


class GhostModule(nn.Module):
    def __init__(self, inp: int, oup: int, relu: bool = True, ratio: int = 2, dw_size: int = 3):
        super().__init__()
        self.oup, self.relu = oup, relu
        init_ch = math.ceil(oup / ratio)
        new_ch = init_ch * (ratio - 1)
        self.primary_conv = nn.Conv2d(inp, init_ch, 1, bias=False)
        self.primary_bn = nn.BatchNorm2d(init_ch)
        self.cheap_conv = nn.Conv2d(init_ch, new_ch, dw_size, padding=dw_size // 2,
                                    groups=init_ch, bias=False)
        self.cheap_bn = nn.BatchNorm2d(new_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.primary_bn(self.primary_conv(x))
        if self.relu:
            x1 = torch.relu(x1)
        x2 = self.cheap_bn(self.cheap_conv(x1))
        if self.relu:
            x2 = torch.relu(x2)
        return torch.cat([x1, x2], dim=1)[:, : self.oup]


class GhostBottleneck(nn.Module):
    def __init__(self, in_chs: int, mid_chs: int, out_chs: int, k: int, stride: int, se: float):
        super().__init__()
        self.stride = stride
        self.ghost1 = GhostModule(in_chs, mid_chs, relu=True)
        if stride > 1:
            self.conv_dw = nn.Conv2d(mid_chs, mid_chs, k, stride=stride, padding=(k - 1) // 2,
                                     groups=mid_chs, bias=False)
            self.bn_dw = nn.BatchNorm2d(mid_chs)
        self.se = SqueezeExcite(mid_chs, se) if se > 0 else None
        self.ghost2 = GhostModule(mid_chs, out_chs, relu=False)
        if in_chs == out_chs and stride == 1:
            self.shortcut = None
        else:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_chs, in_chs, k, stride=stride, padding=(k - 1) // 2,
                          groups=in_chs, bias=False),
                nn.BatchNorm2d(in_chs),
                nn.Conv2d(in_chs, out_chs, 1, bias=False),
                nn.BatchNorm2d(out_chs),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.ghost1(x)
        if self.stride > 1:
            y = self.bn_dw(self.conv_dw(y))
        if self.se is not None:
            y = self.se(y)
        y = self.ghost2(y)
        return y + (x if self.shortcut is None else self.shortcut(x))


class TruncatedGhostNet(nn.Module):
    """The paper's truncated GhostNet (vision experiments).

    `width` is accepted for a uniform constructor but IGNORED: the architecture is fixed at
    GhostNet-1.0 so that the prunable-weight count matches the paper's (about 126K).
    Prunable: every conv weight (stem, Ghost primary and cheap depthwise convs, strided
    depthwise convs, shortcut convs, the 80->184 conv, the 184->128 head conv) except the
    squeeze-excite convs. Biases, batch norm, SE and the linear classifier stay dense.
    Runs on any (C, H, W) input with H, W >= 16 (e.g. 3x32x32 CIFAR, 1x28x28 MNIST).
    """

    def __init__(self, input_shape: tuple[int, ...], num_outputs: int, width: int = 16):
        super().__init__()
        del width  # fixed architecture, see the docstring
        in_ch = input_shape[0]
        self.conv_stem = nn.Conv2d(in_ch, 16, 3, stride=2, padding=1, bias=False)
        self.bn_stem = nn.BatchNorm2d(16)
        blocks, c = [], 16
        for k, exp, out, se, s in GHOST_CFGS:
            blocks.append(GhostBottleneck(c, _make_divisible(exp), _make_divisible(out), k, s, se))
            c = _make_divisible(out)
        self.blocks = nn.Sequential(*blocks)
        self.conv_last = nn.Conv2d(c, 184, 1, bias=False)
        self.bn_last = nn.BatchNorm2d(184)
        self.conv_head = nn.Conv2d(184, 128, 1, bias=True)  # the paper's "184->128 head"
        self.classifier = nn.Linear(128, num_outputs)

    def prunable_names(self) -> list[str]:
        names = []
        for mod_name, mod in self.named_modules():
            if isinstance(mod, nn.Conv2d) and ".se." not in f".{mod_name}.":
                names.append(f"{mod_name}.weight")
        return names

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.bn_stem(self.conv_stem(x)))
        x = self.blocks(x)
        x = torch.relu(self.bn_last(self.conv_last(x)))
        x = F.adaptive_avg_pool2d(x, 1)
        return torch.flatten(torch.relu(self.conv_head(x)), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))
