"""What the transductive methods share: inputs as float32 tensors, checked once, and class means."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from fewshot.errors import InputError


def as_episode(
    support: Any, support_labels: Any, query: Any, n_way: int | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """``(support (S, d) float32, labels (S,) int64, query (Q, d) float32, n_way)`` from arrays
    or tensors, with the shapes and labels checked (labels must be ``0..n_way-1``)."""
    s = torch.as_tensor(np.asarray(support) if not isinstance(support, torch.Tensor) else support)
    q = torch.as_tensor(np.asarray(query) if not isinstance(query, torch.Tensor) else query)
    y = torch.as_tensor(
        np.asarray(support_labels)
        if not isinstance(support_labels, torch.Tensor)
        else support_labels
    )
    s, q, y = s.float(), q.float(), y.long()
    if s.ndim != 2 or q.ndim != 2 or s.shape[1] != q.shape[1] or y.shape != s.shape[:1]:
        raise InputError(
            f"transductive: need support (S, d), support_labels (S,) and query (Q, d) with one "
            f"d; got {tuple(s.shape)}, {tuple(y.shape)} and {tuple(q.shape)}"
        )
    if s.shape[0] == 0 or q.shape[0] == 0:
        raise InputError("transductive: support and query must each hold at least one row")
    n = int(y.max()) + 1 if n_way is None else int(n_way)
    if int(y.min()) < 0 or int(y.max()) >= n:
        raise InputError(
            f"transductive: support_labels must be 0..{n - 1} (episode labels), got "
            f"{int(y.min())}..{int(y.max())}"
        )
    return s, y, q, n


def class_means(x: torch.Tensor, labels: torch.Tensor, n_way: int) -> torch.Tensor:
    """Mean row per class: x (S, d), labels (S,) → (N, d); a class without rows stays 0."""
    sums = torch.zeros(n_way, x.shape[1], dtype=x.dtype).index_add_(0, labels, x)
    counts = torch.bincount(labels, minlength=n_way).clamp_min(1).to(x.dtype)
    return sums / counts[:, None]


def neg_sq_distances(query: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """``−‖q − c‖²`` for every query (Q, d) and centre (N, d): (Q, N)."""
    d = query.pow(2).sum(1, keepdim=True) - 2 * query @ centres.T + centres.pow(2).sum(1)[None]
    return -d.clamp_min(0)
