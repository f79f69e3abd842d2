"""Adversarial domain alignment (DANN, Ganin et al. 2016): a domain classifier on embeddings
behind a gradient-reversal layer.

The classifier learns to tell source-domain embeddings (B, d) from target-domain ones; the
reversal layer is the identity going forward and multiplies the gradient by −λ going back, so
the encoder below it learns features the classifier cannot separate. λ follows Ganin et al.'s
schedule ``2 / (1 + exp(−γ·p)) − 1`` over training progress p ∈ [0, 1] (γ = 10): near 0 at
the start, when the features are still poor, and near 1 at the end.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from fewshot.errors import InputError
from fewshot.heads.base import Head


class _Reverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, lam: float) -> torch.Tensor:
        ctx.lam = lam
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return -ctx.lam * grad, None


def grad_reverse(x: torch.Tensor, lam: float = 1.0) -> torch.Tensor:
    """Identity on ``x`` (any shape) going forward; the gradient times ``−lam`` going back."""
    return _Reverse.apply(x, float(lam))


def dann_lambda(progress: float, gamma: float = 10.0) -> float:
    """Ganin et al.'s λ at training progress ``progress`` in [0, 1]: 0 → 0, 1 → ≈ 1."""
    p = min(max(float(progress), 0.0), 1.0)
    return 2.0 / (1.0 + math.exp(-gamma * p)) - 1.0


class DomainClassifier(Head):
    """Log-odds (B,) that embeddings (B, dim) come from the target domain, through a
    gradient-reversal layer: ``dim → hidden → hidden → 1`` with ReLUs, as in Ganin et al.

    Example:
        >>> domain = DomainClassifier(384)
        >>> loss = domain.loss(domain(source, lam), domain(target, lam))
    """

    def __init__(self, dim: int, hidden: int = 256) -> None:
        super().__init__()
        for name, value in (("dim", dim), ("hidden", hidden)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(
                    f"DomainClassifier: `{name}` must be a positive int, got {value!r}"
                )
        self.dim, self.hidden = dim, hidden
        self.net = nn.Sequential(
            nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, 1),
        )  # fmt: skip

    @property
    def spec(self) -> dict[str, Any]:
        """JSON description that rebuilds this head (weights live in its state dict)."""
        return {"type": "domain", "dim": self.dim, "hidden": self.hidden}

    def forward(self, z: torch.Tensor, lam: float = 1.0) -> torch.Tensor:
        """Target-domain log-odds (B,) of embeddings z (B, dim); gradients reach z reversed
        and scaled by ``lam``."""
        return self.net(grad_reverse(z, lam)).squeeze(-1)

    @staticmethod
    def loss(source_logits: torch.Tensor, target_logits: torch.Tensor) -> torch.Tensor:
        """Binary cross-entropy: source rows (B_s,) labelled 0, target rows (B_t,) labelled 1."""
        logits = torch.cat([source_logits, target_logits])
        labels = torch.cat([torch.zeros_like(source_logits), torch.ones_like(target_logits)])
        return F.binary_cross_entropy_with_logits(logits, labels)

    @staticmethod
    def accuracy(source_logits: torch.Tensor, target_logits: torch.Tensor) -> torch.Tensor:
        """How often the classifier tells the domains apart (0.5: aligned)."""
        right = torch.cat([source_logits < 0, target_logits > 0])
        return right.float().mean()
