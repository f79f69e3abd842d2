"""BD-CSPN (Liu et al. 2020, "Prototype Rectification for Few-Shot Learning"): reduce the bias
of one-shot prototypes with the unlabelled queries.

Two steps, on L2-normalised features, cosine similarity scaled by ``scale`` (the paper's ε=10):
1. cross-class bias: shift every query by (mean support − mean query);
2. intra-class bias: pseudo-label the shifted queries by their nearest prototype and recompute
   each prototype as a weighted mean of its support and its pseudo-labelled queries, weights
   ``softmax(scale · cos(x, p_class))`` over the members of the class.
As in easyfsl's implementation, every query takes part (the paper keeps the top Z per class;
pass ``top_z`` for that).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from fewshot.transductive.common import as_episode, class_means


def bd_cspn_prototypes(
    support: Any, support_labels: Any, query: Any, n_way: int | None = None,
    scale: float = 10.0, top_z: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """Rectified prototypes (N, d) and the shifted, normalised queries (Q, d) they score.

    Arguments: support (S, d), support_labels (S,) in ``0..N-1``, query (Q, d); ``scale`` the
    cosine temperature; ``top_z`` keeps only the Z most confident pseudo-labelled queries per
    class (None: all).
    """
    s, y, q, n = as_episode(support, support_labels, query, n_way)
    s, q = F.normalize(s, dim=1), F.normalize(q, dim=1)
    q = q + (s.mean(0, keepdim=True) - q.mean(0, keepdim=True))
    protos = class_means(s, y, n)
    sim_q = scale * (F.normalize(q, dim=1) @ F.normalize(protos, dim=1).T)
    pseudo = sim_q.argmax(1)
    keep = torch.ones_like(pseudo, dtype=torch.bool)
    confidence = sim_q.gather(1, pseudo[:, None]).squeeze(1)
    if top_z is not None:
        keep = torch.zeros_like(keep)
        for c in range(n):
            members = torch.nonzero(pseudo == c).squeeze(1)
            best = confidence[members].argsort(descending=True)[:top_z]
            keep[members[best]] = True
    sim_s = scale * (s @ F.normalize(protos, dim=1).T).gather(1, y[:, None]).squeeze(1)
    members_x = torch.cat([s, q[keep]])
    members_y = torch.cat([y, pseudo[keep]])
    logits = torch.cat([sim_s, confidence[keep]])
    # softmax of the logits within each class: exp, divided by the class's sum
    weights = (logits - logits.max()).exp()
    totals = torch.zeros(n).index_add_(0, members_y, weights)
    weights = weights / totals[members_y]
    rectified = torch.zeros(n, s.shape[1]).index_add_(0, members_y, weights[:, None] * members_x)
    return rectified, q


def bd_cspn_scores(
    support: Any, support_labels: Any, query: Any, n_way: int | None = None, scale: float = 10.0
) -> torch.Tensor:
    """Scores (Q, N): ``scale · cos(q_shifted, rectified prototype)``; argmax is the prediction."""
    protos, q = bd_cspn_prototypes(support, support_labels, query, n_way, scale)
    return scale * (F.normalize(q, dim=1) @ F.normalize(protos, dim=1).T)
