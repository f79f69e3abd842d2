"""Siamese head (Koch et al. 2015): p(same) = σ(Σ_j α_j |h1_j − h2_j| + b)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from fewshot.errors import InputError
from fewshot.heads.base import Head
from fewshot.heads.losses import siamese_loss


class SiameseHead(Head):
    """Pairwise similarity of twin embeddings: a weighted L1 distance through a sigmoid.

    Arguments:
        dim: embedding size d.

    Example:
        >>> head = SiameseHead(64)
        >>> logits = head(a, b)              # (B,) log-odds that a[i] and b[i] match
        >>> scores = head.score(query, support)   # (M, S) match probabilities
    """

    def __init__(self, dim: int):
        super().__init__()
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
            raise InputError(f"SiameseHead: `dim` must be a positive int, got {dim!r}")
        self.dim = dim
        self.linear = nn.Linear(dim, 1)

    @property
    def spec(self) -> dict[str, Any]:
        """JSON description that rebuilds this head (weights live in its state dict)."""
        return {"type": "siamese", "dim": self.dim}

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Log-odds (B,) that rows of a (B, d) and b (B, d) are the same class."""
        return self.linear((a - b).abs()).squeeze(-1)

    def score(self, query: torch.Tensor, support: torch.Tensor) -> torch.Tensor:
        """Match probabilities (M, S) of every query (M, d) against every support (S, d)."""
        diff = (query[:, None, :] - support[None, :, :]).abs()
        return torch.sigmoid(self.linear(diff).squeeze(-1))

    def loss(self, logits: torch.Tensor, same: torch.Tensor) -> torch.Tensor:
        """Binary cross-entropy of pair log-odds (B,) against same-class targets (B,)."""
        return siamese_loss(logits, same)
