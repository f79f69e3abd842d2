"""TIM (Boudiaf et al. 2020, "Information Maximization for Few-Shot Learning"), solved with its
alternating-direction method (TIM-ADM).

A softmax classifier ``p(k | z) ∝ exp(−τ/2 ‖z − w_k‖²)`` over L2-normalised features starts at
the class means of the support, then maximises the mutual information between queries and
their predicted labels (high marginal entropy: balanced classes; low conditional entropy:
confident predictions) while keeping the support's cross-entropy low. The defaults are the
paper's: τ = 15, loss weights (cross-entropy, marginal, conditional) = (0.1, 1, 0.1),
150 iterations. The marginal-entropy term assumes the queries are spread over the classes,
as they are in balanced episodes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from fewshot.transductive.common import as_episode, class_means


def _logits(x: torch.Tensor, w: torch.Tensor, temperature: float) -> torch.Tensor:
    """``−τ/2 ‖x − w_k‖²``: x (B, d), w (N, d) → (B, N)."""
    return temperature * (x @ w.T - 0.5 * w.pow(2).sum(1)[None] - 0.5 * x.pow(2).sum(1)[:, None])


def tim_probabilities(
    support: Any, support_labels: Any, query: Any, n_way: int | None = None,
    iterations: int = 150, temperature: float = 15.0,
    loss_weights: Sequence[float] = (0.1, 1.0, 0.1),
) -> torch.Tensor:  # fmt: skip
    """Class probabilities (Q, N) of the queries after TIM-ADM.

    Arguments: support (S, d), support_labels (S,) in ``0..N-1``, query (Q, d) (arrays or
    tensors); ``iterations`` of the alternating updates; ``temperature`` τ; ``loss_weights``
    (λ cross-entropy, α marginal entropy, conditional entropy).
    """
    s, y, q, n = as_episode(support, support_labels, query, n_way)
    s, q = F.normalize(s, dim=1), F.normalize(q, dim=1)
    if s.shape[1] > s.shape[0] + q.shape[0]:
        # Every quantity below lives in the span of the S + Q rows (the weights start as
        # support means and are updated by combinations of rows), so coordinates in an
        # orthonormal basis of that span give the same answer in r ≤ S + Q dimensions.
        basis = torch.linalg.qr(torch.cat([s, q]).T).Q  # (d, r)
        s, q = s @ basis, q @ basis
    ce_w, marg_w, cond_w = (float(v) for v in loss_weights)
    onehot = F.one_hot(y, n).float()
    w = class_means(s, y, n)
    ratio = s.shape[0] / q.shape[0]
    alpha, beta = cond_w, marg_w / (marg_w + 1.0)
    src = ce_w / (1.0 + cond_w)
    for _ in range(iterations):
        p_q = _logits(q, w, temperature).softmax(1)
        # auxiliary assignments: sharpened by the conditional-entropy weight, balanced by the
        # marginal-entropy weight
        aux = p_q ** (1 + alpha) / (p_q ** (1 + alpha)).sum(0, keepdim=True) ** beta
        aux = aux / aux.sum(1, keepdim=True)
        p_s = _logits(s, w, temperature).softmax(1)
        num = src * (onehot.T @ s + w * p_s.sum(0)[:, None] - p_s.T @ s)
        num = num + ratio * (aux.T @ q + w * p_q.sum(0)[:, None] - p_q.T @ q)
        den = src * onehot.sum(0)[:, None] + ratio * aux.sum(0)[:, None]
        w = num / den
    return _logits(q, w, temperature).softmax(1)
