"""A linear projection of frozen embeddings, identity at the start (trained by
``fewshot.adapt.projection_head``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from fewshot.errors import InputError
from fewshot.heads.base import Head


class ProjectionHead(Head):
    """Linear map of embeddings (N, dim) → (N, dim), identity at initialisation.

    Arguments:
        dim: embedding size d (input and output).

    Example:
        >>> head = ProjectionHead(384)                                    # W = I, b = 0
        >>> projected = head.transform(embeddings)                        # (N, d) float32
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
            raise InputError(f"ProjectionHead: `dim` must be a positive int, got {dim!r}")
        self.dim = dim
        self.linear = nn.Linear(dim, dim)
        with torch.no_grad():
            self.linear.weight.copy_(torch.eye(dim))
            self.linear.bias.zero_()

    @property
    def spec(self) -> dict[str, Any]:
        """JSON description that rebuilds this head (weights live in its state dict)."""
        return {"type": "projection", "dim": self.dim}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Projected embeddings (N, dim) of x (N, dim)."""
        return self.linear(x)

    def identity_penalty(self) -> torch.Tensor:
        """‖W − I‖² + ‖b‖²: how far the head has moved from the identity."""
        eye = torch.eye(self.dim, dtype=self.linear.weight.dtype)
        return (self.linear.weight - eye).pow(2).sum() + self.linear.bias.pow(2).sum()

    @torch.no_grad()
    def transform(self, embeddings: np.ndarray) -> np.ndarray:
        """Project a float32 array (N, dim) in eval mode; returns a new C-contiguous float32 array."""
        out = self(torch.from_numpy(np.ascontiguousarray(embeddings, dtype=np.float32)))
        return np.ascontiguousarray(out.numpy(), dtype=np.float32)
