"""How Omniglot glyphs become network input: ink 1, paper 0, one channel.

``omniglot_preprocess(size)`` is the ``ImagePreprocess`` stored in the shipped checkpoint;
``ink`` is the same map on a uint8 batch already at size (the training hot path).
"""

from __future__ import annotations

import torch

from fewshot.encoders.preprocess import ImagePreprocess


def omniglot_preprocess(size: int = 28) -> ImagePreprocess:
    """Grayscale, shorter side to ``size`` (bilinear), ``1 − x/255``: (B, 1, size, size)."""
    return ImagePreprocess(size=size, resize=size, mode="L", mean=(0.0,), std=(1.0,), invert=True)


def ink(images: torch.Tensor) -> torch.Tensor:
    """uint8 (B, S, S), ink 0 / paper 255 → float (B, 1, S, S), ink 1 / paper 0."""
    return 1.0 - images.unsqueeze(1).float() / 255.0
