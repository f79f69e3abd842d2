"""Preprocessing of grayscale glyph images (Omniglot) into network input.

Input: PIL images, uint8 arrays (H, W) or (B, H, W) with dark ink on light paper, or file
paths. Output: float32 tensors (B, 1, S, S) with ink = 1 and paper = 0, resized with Lanczos
exactly as the Omniglot cache is, so training and inference see the same pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image


def ink(images: torch.Tensor) -> torch.Tensor:
    """uint8 (B, S, S), ink 0 / paper 255 → float (B, 1, S, S), ink 1 / paper 0."""
    return 1.0 - images.unsqueeze(1).float() / 255.0


class GlyphPreprocess:
    """Callable: list of inputs → (B, 1, size, size) float32; JSON ``spec`` rebuilds it."""

    def __init__(self, size: int = 28):
        if not isinstance(size, int) or size < 16:
            raise ValueError(f"GlyphPreprocess: `size` must be an int >= 16, got {size!r}")
        self.size = size

    @property
    def spec(self) -> dict[str, Any]:
        return {"type": "glyph", "size": self.size, "polarity": "ink-dark-on-light"}

    def to_uint8(self, item: Any) -> np.ndarray:
        """One input → uint8 (size, size), ink dark."""
        if isinstance(item, (str, Path)):
            with Image.open(item) as im:
                return self.to_uint8(im.copy())
        if isinstance(item, Image.Image):
            gray = item.convert("L")
            if gray.size != (self.size, self.size):
                gray = gray.resize((self.size, self.size), Image.LANCZOS)
            return np.asarray(gray, dtype=np.uint8)
        arr = np.asarray(item)
        if arr.ndim != 2:
            raise ValueError(
                f"GlyphPreprocess: expected a 2-D grayscale image, got shape {arr.shape}"
            )
        if arr.dtype == bool:
            arr = arr.astype(np.uint8) * 255
        if arr.shape != (self.size, self.size) or arr.dtype != np.uint8:
            return self.to_uint8(Image.fromarray(arr.astype(np.uint8)))
        return arr

    def __call__(self, inputs: Sequence[Any] | np.ndarray) -> torch.Tensor:
        if isinstance(inputs, np.ndarray) and inputs.ndim == 3 and inputs.dtype == np.uint8 and \
                inputs.shape[1:] == (self.size, self.size):  # fmt: skip
            batch = inputs
        else:
            batch = np.stack([self.to_uint8(x) for x in inputs])
        return ink(torch.from_numpy(np.ascontiguousarray(batch)))
