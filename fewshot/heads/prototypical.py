"""Prototypical head (Snell et al. 2017): class means of support embeddings, distance logits.

Metrics (``fewshot.metrics``): ``euclidean`` (logits = −‖q − p‖², the paper's squared
distance; ``sqeuclidean`` is the same) and ``cosine`` (logits = s · cos(q, p) with a learnable
scale ``s``, as in Chen et al. 2019's cosine classifiers).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from fewshot.errors import InputError
from fewshot.heads.base import Head
from fewshot.heads.losses import prototypical_loss
from fewshot.metrics import get_metric


def prototypes(
    support: torch.Tensor, labels: torch.Tensor, n_way: int | None = None
) -> torch.Tensor:
    """Mean embedding per class: support (S, d), labels (S,) in 0..N-1 → prototypes (N, d)."""
    if support.ndim != 2 or labels.shape != support.shape[:1]:
        raise InputError(
            f"prototypes: need support (S, d) and labels (S,), got {tuple(support.shape)} "
            f"and {tuple(labels.shape)}"
        )
    n = int(labels.max()) + 1 if n_way is None else n_way
    sums = torch.zeros(n, support.shape[1], dtype=support.dtype, device=support.device)
    sums.index_add_(0, labels, support)
    counts = torch.bincount(labels, minlength=n).clamp_min(1).to(support.dtype)
    return sums / counts[:, None]


class PrototypicalHead(Head):
    """Scores queries against class prototypes.

    Arguments:
        metric: ``"euclidean"`` (alias ``"sqeuclidean"``) or ``"cosine"``.
        scale: initial logit scale for ``cosine`` (learnable when ``learn_scale``); ignored
            by ``euclidean``.

    Example:
        >>> head = PrototypicalHead("euclidean")
        >>> logits = head(query, head.prototypes(support, support_labels))  # (M, N)
        >>> loss = head.loss(logits, query_labels)
    """

    def __init__(self, metric: str = "euclidean", scale: float = 10.0, learn_scale: bool = True):
        super().__init__()
        self.metric = get_metric(metric).name
        if not scale > 0:
            raise InputError(f"PrototypicalHead: `scale` must be > 0, got {scale!r}")
        self.learn_scale = bool(learn_scale)
        log_scale = torch.tensor(math.log(scale), dtype=torch.float32)
        if self.metric == "cosine" and learn_scale:
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

    def prototypes(
        self, support: torch.Tensor, labels: torch.Tensor, n_way: int | None = None
    ) -> torch.Tensor:
        """Class prototypes (N, d) from support (S, d) and labels (S,)."""
        return prototypes(support, labels, n_way)

    def forward(self, query: torch.Tensor, protos: torch.Tensor) -> torch.Tensor:
        """Logits (M, N) of queries (M, d) against prototypes (N, d)."""
        if self.metric == "euclidean":
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

    def episode_loss(
        self,
        support: torch.Tensor,
        support_labels: torch.Tensor,
        query: torch.Tensor,
        query_labels: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(loss, accuracy)`` of one episode from embeddings; shapes as in ``forward``."""
        logits = self(query, self.prototypes(support, support_labels))
        acc = (logits.argmax(1) == query_labels).float().mean()
        return self.loss(logits, query_labels), acc
