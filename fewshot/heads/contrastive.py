"""Supervised contrastive loss (Khosla et al. 2020) over a batch of labelled embeddings."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def supervised_contrastive_loss(
    embeddings: torch.Tensor, labels: torch.Tensor, temperature: float = 0.1
) -> torch.Tensor:
    """SupCon: pull same-label rows together, push the rest apart; embeddings (B, d), labels (B,).

    Rows without another row of their label in the batch contribute nothing; a batch with no
    positive pair at all gives a zero loss that still carries a gradient graph.
    """
    if temperature <= 0:
        raise ValueError(
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
