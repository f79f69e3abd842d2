"""Siamese head (Koch et al. 2015): p(same) = σ(Σ_j α_j |h1_j − h2_j| + b), and its losses.

Also the contrastive loss (Hadsell et al. 2006) on Euclidean distances of twin embeddings.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


class SiameseHead(nn.Module):
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
        if not isinstance(dim, int) or dim < 1:
            raise ValueError(f"SiameseHead: `dim` must be a positive int, got {dim!r}")
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


def siamese_loss(logits: torch.Tensor, same: torch.Tensor) -> torch.Tensor:
    """Koch et al.'s objective: mean BCE of pair log-odds (B,) against 1 = same, 0 = different."""
    return F.binary_cross_entropy_with_logits(logits, same.to(logits.dtype))


def contrastive_loss(
    a: torch.Tensor, b: torch.Tensor, same: torch.Tensor, margin: float = 1.0
) -> torch.Tensor:
    """Hadsell et al. 2006: mean of y·d² + (1−y)·max(0, m − d)², d = ‖a − b‖ (a, b: (B, d))."""
    if margin <= 0:
        raise ValueError(f"contrastive_loss: `margin` must be > 0, got {margin!r}")
    d = (a - b).pow(2).sum(1).clamp_min(1e-12).sqrt()
    y = same.to(d.dtype)
    return (y * d.pow(2) + (1 - y) * (margin - d).clamp_min(0).pow(2)).mean()


def cosine_pair_loss(a: torch.Tensor, b: torch.Tensor, same: torch.Tensor) -> torch.Tensor:
    """SetFit's pair objective: mean of (cos(a_i, b_i) − y_i)² with y = 1 same class, 0 not.

    ``a``, ``b``: (B, d) twin embeddings; ``same``: (B,) 0/1 targets.
    """
    return F.mse_loss(F.cosine_similarity(a, b, dim=1), same.to(a.dtype))
