"""Transductive inference over a query batch: pure functions of embeddings.

Each takes support (S, d) with episode labels (S,) in ``0..N-1`` and queries (Q, d) (numpy
arrays or torch tensors) and returns scores (Q, N), higher is better, so ``argmax(1)`` is the
prediction. Unlike inductive prototypes, a query's answer uses the other queries of the batch:

* ``cl2n``: centre support and queries on their joint mean, L2-normalise (``centre_on_batch``).
* ``bdcspn``: BD-CSPN prototype rectification (Liu et al. 2020).
* ``tim``: TIM, transductive information maximisation, ADM solver (Boudiaf et al. 2020).

``transductive_scores(method, ...)`` dispatches by name; ``episodes`` evaluates each against
inductive prototypes on the same episodes (``fewshot evaluate --transductive``).
"""

from __future__ import annotations

from typing import Any

import torch

from fewshot.errors import InputError
from fewshot.transductive.bdcspn import bd_cspn_prototypes, bd_cspn_scores
from fewshot.transductive.centring import centre_on_batch, cl2n_scores
from fewshot.transductive.tim import tim_probabilities

METHODS = ("cl2n", "bdcspn", "tim")

__all__ = [
    "METHODS",
    "bd_cspn_prototypes",
    "bd_cspn_scores",
    "centre_on_batch",
    "cl2n_scores",
    "tim_probabilities",
    "transductive_scores",
]


def transductive_scores(
    method: str, support: Any, support_labels: Any, query: Any, n_way: int | None = None
) -> torch.Tensor:
    """Scores (Q, N) of the queries by ``method`` (one of ``METHODS``), default settings."""
    if method == "cl2n":
        return cl2n_scores(support, support_labels, query, n_way)
    if method == "bdcspn":
        return bd_cspn_scores(support, support_labels, query, n_way)
    if method == "tim":
        return tim_probabilities(support, support_labels, query, n_way)
    raise InputError(f"unknown transductive method {method!r}; use one of {', '.join(METHODS)}")
