"""CL2N on the batch: centre support and queries on their joint mean, then L2-normalise.

SimpleShot's CL2N (Wang et al. 2019) subtracts the mean of base-class features; with no base
data at hand (a user's own domain), the episode itself gives a mean. Using the queries' features
makes this transductive: a query's score depends on the other queries of the batch.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from fewshot.transductive.common import as_episode, class_means, neg_sq_distances


def centre_on_batch(
    support: torch.Tensor, query: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Support (S, d) and query (Q, d) minus the mean of all S + Q rows, each row then L2
    normalised: ``(support', query')`` with the same shapes."""
    mean = torch.cat([support, query]).mean(0, keepdim=True)
    return F.normalize(support - mean, dim=1), F.normalize(query - mean, dim=1)


def cl2n_scores(
    support: Any, support_labels: Any, query: Any, n_way: int | None = None
) -> torch.Tensor:
    """Scores (Q, N): ``−‖q' − p'‖²`` to class means of the batch-centred, normalised support.

    Arguments: support (S, d), support_labels (S,) in ``0..N-1``, query (Q, d); arrays or
    tensors. Higher is better; ``argmax(1)`` is the prediction.
    """
    s, y, q, n = as_episode(support, support_labels, query, n_way)
    s, q = centre_on_batch(s, q)
    return neg_sq_distances(q, class_means(s, y, n))
