"""Every loss the heads and fine-tuning use, in one place: pure functions of tensors.

- ``prototypical_loss``: cross-entropy of query logits against prototypes (Snell et al. 2017).
- ``siamese_loss``: binary cross-entropy of pair log-odds (Koch et al. 2015).
- ``contrastive_loss``: margin loss on Euclidean pair distances (Hadsell et al. 2006).
- ``cosine_pair_loss``: (cos(a, b) − same)², SetFit's pair objective.
- ``supervised_contrastive_loss``: SupCon over a labelled batch (Khosla et al. 2020).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from fewshot.errors import InputError


def prototypical_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of query logits (M, N) against episode labels (M,)."""
    return F.cross_entropy(logits, targets)


def siamese_loss(logits: torch.Tensor, same: torch.Tensor) -> torch.Tensor:
    """Koch et al.'s objective: mean BCE of pair log-odds (B,) against 1 = same, 0 = different."""
    return F.binary_cross_entropy_with_logits(logits, same.to(logits.dtype))


def contrastive_loss(
    a: torch.Tensor, b: torch.Tensor, same: torch.Tensor, margin: float = 1.0
) -> torch.Tensor:
    """Hadsell et al. 2006: mean of y·d² + (1−y)·max(0, m − d)², d = ‖a − b‖ (a, b: (B, d))."""
    if margin <= 0:
        raise InputError(f"contrastive_loss: `margin` must be > 0, got {margin!r}")
    d = (a - b).pow(2).sum(1).clamp_min(1e-12).sqrt()
    y = same.to(d.dtype)
    return (y * d.pow(2) + (1 - y) * (margin - d).clamp_min(0).pow(2)).mean()


def cosine_pair_loss(a: torch.Tensor, b: torch.Tensor, same: torch.Tensor) -> torch.Tensor:
    """SetFit's pair objective: mean of (cos(a_i, b_i) − y_i)² with y = 1 same class, 0 not.

    ``a``, ``b``: (B, d) twin embeddings; ``same``: (B,) 0/1 targets.
    """
    return F.mse_loss(F.cosine_similarity(a, b, dim=1), same.to(a.dtype))


def supervised_contrastive_loss(
    embeddings: torch.Tensor, labels: torch.Tensor, temperature: float = 0.1
) -> torch.Tensor:
    """SupCon: pull same-label rows together, push the rest apart; embeddings (B, d), labels (B,).

    Rows without another row of their label in the batch contribute nothing; a batch with no
    positive pair at all gives a zero loss that still carries a gradient graph.
    """
    if temperature <= 0:
        raise InputError(
            f"supervised_contrastive_loss: `temperature` must be > 0, got {temperature}"
        )
    z = F.normalize(embeddings, dim=1)
    logits = z @ z.T / temperature
    self_mask = torch.eye(len(z), dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(self_mask, float("-inf"))
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    positives = (labels[:, None] == labels[None, :]) & ~self_mask
    counts = positives.sum(1)
    has = counts > 0
    if not bool(has.any()):
        return embeddings.sum() * 0.0
    pos_log_prob = log_prob.masked_fill(~positives, 0.0).sum(1)
    return -(pos_log_prob[has] / counts[has]).mean()
