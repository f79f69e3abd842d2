"""Few-shot backbones trained from scratch: Conv-4 (Snell et al. 2017) and ResNet-12.

Both map images (B, C, H, W) to embeddings (B, d). Conv-4 flattens its last feature map, so
d depends on the input size: 64 for 28×28, 64·6·6 = 2304 for 105×105; ``out_dim`` computes it.
ResNet-12 pools globally to its last width (640 by default) for any input size.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from fewshot.errors import InputError


def conv_block(c_in: int, c_out: int) -> nn.Sequential:
    """conv3×3 (pad 1) → BN → ReLU → maxpool 2: (B, c_in, H, W) → (B, c_out, H/2, W/2)."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    )


class Conv4(nn.Module):
    """Four conv blocks of ``hidden`` channels, then flatten: (B, C, S, S) → (B, hidden·(S/16)²).

    Arguments:
        in_channels: 1 for Omniglot, 3 for RGB.
        hidden: channels of every block (64 in Snell et al.).
        image_size: input side, recorded so ``out_dim`` is known before the first batch.
    """

    def __init__(self, in_channels: int = 1, hidden: int = 64, image_size: int = 28):
        super().__init__()
        for name, v in (
            ("in_channels", in_channels),
            ("hidden", hidden),
            ("image_size", image_size),
        ):
            if not isinstance(v, int) or v < 1:
                raise InputError(f"Conv4: `{name}` must be a positive int, got {v!r}")
        if image_size < 16:
            raise InputError(
                f"Conv4: `image_size` must be >= 16 (four 2× poolings), got {image_size}"
            )
        self.in_channels, self.hidden, self.image_size = in_channels, hidden, image_size
        self.encoder = nn.Sequential(
            conv_block(in_channels, hidden),
            conv_block(hidden, hidden),
            conv_block(hidden, hidden),
            conv_block(hidden, hidden),
        )

    @property
    def out_dim(self) -> int:
        """Embedding size for ``image_size`` inputs."""
        side = self.image_size
        for _ in range(4):
            side //= 2
        return self.hidden * side * side

    def stages(self) -> list[nn.Module]:
        """The four conv blocks, input side first (transfer training freezes a prefix of them)."""
        return list(self.encoder)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x).flatten(1)


class ResBlock(nn.Module):
    """ResNet-12 block: 3 × (conv3×3, BN, LeakyReLU 0.1) + 1×1 shortcut, then maxpool 2."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.LeakyReLU(0.1, inplace=True),
            nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.LeakyReLU(0.1, inplace=True),
            nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
        )
        self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out))
        self.out = nn.Sequential(nn.LeakyReLU(0.1, inplace=True), nn.MaxPool2d(2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.body(x) + self.shortcut(x))


class ResNet12(nn.Module):
    """ResNet-12 (Oreshkin et al. 2018; Lee et al. 2019): 4 residual blocks, global average pool.

    (B, C, H, W) → (B, widths[-1]); H, W >= 16.
    """

    def __init__(self, in_channels: int = 3, widths: Sequence[int] = (64, 160, 320, 640)):
        super().__init__()
        widths = [int(w) for w in widths]
        if len(widths) != 4 or min(widths) < 1:
            raise InputError(f"ResNet12: `widths` must be 4 positive ints, got {widths!r}")
        if not isinstance(in_channels, int) or in_channels < 1:
            raise InputError(f"ResNet12: `in_channels` must be a positive int, got {in_channels!r}")
        self.in_channels, self.widths = in_channels, widths
        chans = [in_channels, *widths]
        self.blocks = nn.Sequential(*(ResBlock(a, b) for a, b in itertools.pairwise(chans)))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="leaky_relu")

    @property
    def out_dim(self) -> int:
        return self.widths[-1]

    def stages(self) -> list[nn.Module]:
        """The four residual blocks, input side first."""
        return list(self.blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x).mean(dim=(2, 3))


BACKBONES: dict[str, type[nn.Module]] = {"conv4": Conv4, "resnet12": ResNet12}


def network_stages(module: nn.Module) -> list[nn.Module]:
    """A backbone's stages, input side first (``Conv4``, ``ResNet12``, ``Projected``: those with
    a ``stages()`` method); transfer training freezes a prefix of them."""
    stages = getattr(module, "stages", None)
    if not callable(stages):
        raise InputError(f"{type(module).__name__} has no stages() to freeze or train separately")
    return list(stages())


def build_backbone(name: str, **kwargs: Any) -> nn.Module:
    """A backbone by name (``conv4`` or ``resnet12``) with its keyword arguments."""
    if name not in BACKBONES:
        raise InputError(f"unknown backbone {name!r}; choose from {sorted(BACKBONES)}")
    return BACKBONES[name](**kwargs)
