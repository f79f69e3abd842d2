"""Prototypical head (Snell et al. 2017): class means of support embeddings, distance logits.

Metrics: ``sqeuclidean`` (logits = −‖q − p‖²) and ``cosine`` (logits = s · cos(q, p) with a
learnable scale ``s``, as in Chen et al. 2019's cosine classifiers).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

METRICS = ("sqeuclidean", "cosine")


def prototypes(
    support: torch.Tensor, labels: torch.Tensor, n_way: int | None = None
) -> torch.Tensor:
    """Mean embedding per class: support (S, d), labels (S,) in 0..N-1 → prototypes (N, d)."""
    if support.ndim != 2 or labels.shape != support.shape[:1]:
        raise ValueError(
            f"prototypes: need support (S, d) and labels (S,), got {tuple(support.shape)} "
            f"and {tuple(labels.shape)}"
        )
    n = int(labels.max()) + 1 if n_way is None else n_way
    sums = torch.zeros(n, support.shape[1], dtype=support.dtype, device=support.device)
    sums.index_add_(0, labels, support)
    counts = torch.bincount(labels, minlength=n).clamp_min(1).to(support.dtype)
    return sums / counts[:, None]


def prototypical_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of query logits (M, N) against episode labels (M,)."""
    return F.cross_entropy(logits, targets)


class PrototypicalHead(nn.Module):
    """Scores queries against class prototypes.

    Arguments:
        metric: ``"sqeuclidean"`` or ``"cosine"``.
        scale: initial logit scale for ``cosine`` (learnable when ``learn_scale``); ignored
            by ``sqeuclidean``.

    Example:
        >>> head = PrototypicalHead("sqeuclidean")
        >>> logits = head(query, head.prototypes(support, support_labels))  # (M, N)
        >>> loss = head.loss(logits, query_labels)
    """

    def __init__(self, metric: str = "sqeuclidean", scale: float = 10.0, learn_scale: bool = True):
        super().__init__()
        if metric not in METRICS:
            raise ValueError(f"PrototypicalHead: `metric` must be one of {METRICS}, got {metric!r}")
        if not scale > 0:
            raise ValueError(f"PrototypicalHead: `scale` must be > 0, got {scale!r}")
        self.metric = metric
        self.learn_scale = bool(learn_scale)
        log_scale = torch.tensor(math.log(scale), dtype=torch.float32)
        if metric == "cosine" and learn_scale:
            self.log_scale = nn.Parameter(log_scale)
        else:
            self.register_buffer("log_scale", log_scale)

    @property
    def spec(self) -> dict[str, Any]:
        """JSON description that rebuilds this head (weights live in its state dict)."""
        return {
            "type": "prototypical",
            "metric": self.metric,
            "scale": float(self.log_scale.detach().exp()),
            "learn_scale": self.learn_scale,
        }

    def prototypes(self, support: torch.Tensor, labels: torch.Tensor, n_way: int | None = None):
        """Class prototypes (N, d) from support (S, d) and labels (S,)."""
        return prototypes(support, labels, n_way)

    def forward(self, query: torch.Tensor, protos: torch.Tensor) -> torch.Tensor:
        """Logits (M, N) of queries (M, d) against prototypes (N, d)."""
        if self.metric == "sqeuclidean":
            # ‖q‖² − 2 q·p + ‖p‖², clamped: the expansion can go slightly negative in float32
            d = (
                query.pow(2).sum(1, keepdim=True)
                - 2 * query @ protos.T
                + protos.pow(2).sum(1)[None, :]
            )
            return -d.clamp_min(0)
        q = F.normalize(query, dim=1)
        p = F.normalize(protos, dim=1)
        return self.log_scale.exp() * (q @ p.T)

    def loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Cross-entropy over prototypes: logits (M, N), targets (M,)."""
        return prototypical_loss(logits, targets)

    def episode_loss(self, support, support_labels, query, query_labels):
        """``(loss, accuracy)`` of one episode from embeddings; shapes as in ``forward``."""
        logits = self(query, self.prototypes(support, support_labels))
        acc = (logits.argmax(1) == query_labels).float().mean()
        return self.loss(logits, query_labels), acc
