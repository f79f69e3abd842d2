"""Batched random affine distortions on the device (Koch et al. 2015 style), no PIL.

Each image gets its own rotation, scale, shear and translation, drawn from a seeded CPU
generator so that an episode's augmentation is reproducible on any device.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def random_affine(
    x: torch.Tensor,
    generator: torch.Generator,
    rotate_deg: float = 10.0,
    scale: tuple[float, float] = (0.9, 1.1),
    shear: float = 0.1,
    translate: float = 0.08,
) -> torch.Tensor:
    """Distort images x (B, C, H, W) (paper 0) by random affine maps; zeros fill the border.

    ``translate`` is a fraction of the image side; ``shear`` a fraction of the side per side.
    """
    b = x.shape[0]

    def uniform(low: float, high: float) -> torch.Tensor:
        return low + (high - low) * torch.rand(b, generator=generator)

    angle = uniform(-rotate_deg, rotate_deg) * math.pi / 180
    sx, sy = uniform(*scale), uniform(*scale)
    hx, hy = uniform(-shear, shear), uniform(-shear, shear)
    tx, ty = uniform(-translate, translate) * 2, uniform(-translate, translate) * 2
    cos, sin = torch.cos(angle), torch.sin(angle)
    # rotation · shear · scale, then translation (normalised coordinates in [-1, 1])
    a = torch.stack(
        [
            torch.stack([cos * sx + -sin * hy * sx, cos * hx * sy - sin * sy, tx], 1),
            torch.stack([sin * sx + cos * hy * sx, sin * hx * sy + cos * sy, ty], 1),
        ],
        1,
    ).to(device=x.device, dtype=x.dtype)
    grid = F.affine_grid(a, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
