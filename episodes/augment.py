"""Batched image augmentation on the device, no PIL: random affine distortions (Koch et al.
2015 style, for drawn characters) and random crops with flips (for photographs).

Each image gets its own distortion, drawn from a seeded CPU generator so that an episode's
augmentation is reproducible on any device.
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


def random_crop_flip(
    x: torch.Tensor,
    generator: torch.Generator,
    area: tuple[float, float] = (0.6, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
    flip: float = 0.5,
) -> torch.Tensor:
    """Photographs' augmentation, batched: a random crop of ``area`` of each image (aspect
    ``ratio``, log-uniform) resized back to (H, W), mirrored left-right with probability
    ``flip``; ``fewshot.adapt.augment``'s ``natural`` recipe as one ``grid_sample``."""
    b = x.shape[0]

    def uniform(low: float, high: float) -> torch.Tensor:
        return low + (high - low) * torch.rand(b, generator=generator)

    a = uniform(*area)
    r = torch.exp(uniform(math.log(ratio[0]), math.log(ratio[1])))
    w, h = torch.sqrt(a * r).clamp(max=1.0), torch.sqrt(a / r).clamp(max=1.0)
    cx, cy = uniform(-1.0, 1.0) * (1 - w), uniform(-1.0, 1.0) * (1 - h)
    sign = torch.where(torch.rand(b, generator=generator) < flip, -1.0, 1.0)
    zero = torch.zeros(b)
    theta = torch.stack(
        [torch.stack([w * sign, zero, cx], 1), torch.stack([zero, h, cy], 1)], 1
    ).to(device=x.device, dtype=x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def augment_images(x: torch.Tensor, recipe: str, generator: torch.Generator) -> torch.Tensor:
    """``recipe`` (``affine``, ``natural`` or ``none``) on images x (B, C, H, W) in [0, 1] or
    ink space; ``affine`` fills the uncovered border with each image's corner value (its
    paper), so it suits dark-on-light and light-on-dark drawings alike."""
    if recipe == "affine":
        corner = x[:, :, :1, :1]
        return random_affine(x - corner, generator) + corner
    if recipe == "natural":
        return random_crop_flip(x, generator)
    return x
