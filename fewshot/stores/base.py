"""The vector-store protocol: what the classifier needs from an index of metric-space vectors.

A store holds float32 vectors under int64 ids and answers top-k searches. The base class checks
every argument once (shapes, dtype, NaN, ids, ``k``) and puts vectors in the metric's space
(unit length for cosine); a backend writes only ``_add``, ``_remove``, ``_search_prepared``,
``ids``, ``__len__``, ``save`` and ``load``. Scores are higher-is-better for every metric
(``fewshot.metrics``); where fewer than ``k`` vectors exist, ids are −1 and scores −inf.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np

from fewshot.errors import InputError
from fewshot.metrics import Metric, get_metric
from fewshot.vectors import as_float32_matrix


def check_k(k: object) -> int:
    """``k`` as an int >= 1, or an InputError naming it."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise InputError(f"k must be an int >= 1, got {k!r}")
    return int(k)


class VectorStore(ABC):
    """Vectors (N×d float32) under int64 ids; exact or approximate top-k search.

    Arguments:
        dim: vector size d.
        metric: ``"cosine"`` or ``"euclidean"`` (or a ``fewshot.metrics.Metric``).

    Example:
        >>> store = FlatStore(384, "cosine")
        >>> store.add(vectors, ids)                 # vectors (N, 384), ids (N,)
        >>> scores, ids = store.search(queries, 5)  # (M, 5) each, best first
    """

    name: ClassVar[str]

    def __init__(self, dim: int, metric: str | Metric = "cosine") -> None:
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
            raise InputError(f"dim must be an int >= 1, got {dim!r}")
        self.dim = int(dim)
        self.metric = get_metric(metric)

    # ------------------------------------------------------------------ validated entry points
    def prepare(self, vectors: np.ndarray, what: str = "vectors") -> np.ndarray:
        """Validate vectors (N×d) and put them in the metric's space (a new float32 array)."""
        return self.metric.prepare(as_float32_matrix(vectors, self.dim, what))

    def add(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        """Add ``vectors`` (N×d) under int64 ``ids`` (N,), FAISS's argument order."""
        vectors = self.prepare(vectors)
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        if ids.shape != (vectors.shape[0],):
            raise InputError(f"{vectors.shape[0]} vectors need as many ids, got shape {ids.shape}")
        if len(ids):
            self.add_prepared(vectors, ids)

    def add_prepared(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        """Add vectors already in metric space (float32 C-contiguous) under int64 ids."""
        self._add(vectors, ids)

    def remove(self, ids: np.ndarray) -> int:
        """Remove ``ids``; returns how many were present."""
        ids = np.ascontiguousarray(ids, dtype=np.int64).ravel()
        return self._remove(ids) if ids.size else 0

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` scores (N×k float32) and ids (N×k int64), best first."""
        k = check_k(k)
        return self.search_prepared(self.prepare(queries, "queries"), k)

    def search_prepared(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Search queries already in metric space (float32 C-contiguous N×d) for ``k`` >= 1."""
        return self._search_prepared(queries, int(k))

    # ------------------------------------------------------------------ what a backend writes
    @abstractmethod
    def _add(self, vectors: np.ndarray, ids: np.ndarray) -> None: ...

    @abstractmethod
    def _remove(self, ids: np.ndarray) -> int: ...

    @abstractmethod
    def _search_prepared(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]: ...

    @abstractmethod
    def ids(self) -> np.ndarray:
        """All stored ids (int64)."""

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the store to one file (no pickle)."""

    @classmethod
    @abstractmethod
    def load(cls, path: str | os.PathLike[str], dim: int, metric: str | Metric) -> VectorStore:
        """Read a store written by ``save``; an error if it is not ``dim``-d ``metric``."""

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(dim={self.dim}, metric={self.metric.name!r}, size={len(self)})"
        )
