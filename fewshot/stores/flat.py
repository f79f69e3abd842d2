"""Exact search: FAISS ``IndexIDMap2`` over ``IndexFlatIP`` (cosine) or ``IndexFlatL2`` (euclidean)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from fewshot.errors import StoreFormatError
from fewshot.metrics import Metric
from fewshot.runtime import faiss, search
from fewshot.stores.base import VectorStore
from fewshot.stores.faiss_files import flat_index, read_checked_index


class FlatStore(VectorStore):
    """Exact top-k over every stored vector; add and remove by id, no training.

    Example:
        >>> store = FlatStore(64, "euclidean")
        >>> store.add(np.eye(64, dtype="float32")[:3], np.array([7, 8, 9]))
        >>> store.search(np.eye(64, dtype="float32")[:1], 2)[1]    # ids, best first
        array([[7, 8]])
    """

    name = "flat"

    def __init__(self, dim: int, metric: str | Metric = "cosine") -> None:
        super().__init__(dim, metric)
        self.index = faiss.IndexIDMap2(flat_index(self.dim, self.metric))

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def _add(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        self.index.add_with_ids(vectors, ids)

    def _remove(self, ids: np.ndarray) -> int:
        return int(self.index.remove_ids(faiss.IDSelectorBatch(ids)))

    def _search_prepared(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Search the flat index inside the id map and map rows to ids with numpy: the id map's
        own search adds an OpenMP region, which cost ~0.6 ms per call on a loaded machine."""
        scores, rows = search(self.index.index, queries, k)
        count = int(self.index.ntotal)
        if count == 0:
            return np.full_like(scores, -np.inf), np.full_like(rows, -1)
        ids = faiss.rev_swig_ptr(self.index.id_map.data(), count)[rows]  # row −1 → fixed below
        if not self.metric.inner_product:
            np.negative(scores, out=scores)
        missing = rows < 0
        if missing.any():
            ids[missing] = -1
            scores[missing] = -np.inf
        return scores, ids

    def ids(self) -> np.ndarray:
        """All stored ids (int64)."""
        return faiss.vector_to_array(self.index.id_map).astype(np.int64)

    def stored_vectors(self) -> np.ndarray:
        """A view of the stored vectors in insertion order (len×d float32), aligned with ``ids``."""
        count = len(self)
        flat: Any = faiss.downcast_index(self.index.index)
        return faiss.rev_swig_ptr(flat.get_xb(), count * self.dim).reshape(count, self.dim)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the index with FAISS's own binary format (no pickle)."""
        faiss.write_index(self.index, os.fspath(path))

    @classmethod
    def load(cls, path: str | os.PathLike[str], dim: int, metric: str | Metric) -> FlatStore:
        """Read an index written by ``save`` and check it matches ``dim`` and ``metric``."""
        store = cls(dim, metric)
        return store.adopt(read_checked_index(path, store.dim, store.metric), path)

    def adopt(self, index: faiss.Index, path: str | os.PathLike[str]) -> FlatStore:
        """Use an ``IndexIDMap2`` read from ``path`` as this store's index; returns self."""
        if not isinstance(index, faiss.IndexIDMap2):
            raise StoreFormatError(f"FAISS index {path} is not an IndexIDMap2")
        # read_index already returns the concrete class; downcast_index on it would leave the
        # id map pointing at freed memory once the original wrapper is collected.
        self.index = index
        return self
