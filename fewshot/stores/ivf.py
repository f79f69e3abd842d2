"""Approximate class store for ≥ 10⁶ vectors: FAISS ``IndexIVFFlat`` with add / remove by id.

Until ``train_at`` vectors have arrived it is an exact ``FlatStore`` (k-means needs data, and
small stores gain nothing from IVF). The add that reaches ``train_at`` trains the coarse
quantiser on the vectors held so far (√N lists) and moves them into the IVF index; later adds go
straight in. Each search visits ``nprobe`` lists. Scores and ids follow ``FlatStore``.
"""

from __future__ import annotations

import math
import os

import numpy as np

from fewshot.errors import InputError, StoreFormatError
from fewshot.index import (
    METRICS,
    FlatStore,
    as_float32_matrix,
    normalize_rows,
    read_checked_index,
)
from fewshot.runtime import faiss, search

TRAIN_AT = 65_536  # vectors before the store trains itself (then √N ≈ 256+ lists)
TRAIN_POINTS_PER_LIST = 64  # k-means sample: 64 points per list is plenty for a coarse quantiser
TRAIN_ITERATIONS = 10


def default_nlist(count: int) -> int:
    """Inverted lists for ``count`` training vectors: √N, at least 1, with ≥ 39 points per list."""
    return max(1, min(round(math.sqrt(count)), count // 39))


def default_nprobe(nlist: int) -> int:
    """Lists visited per query: 1/32 of them, at least 8 (recall ≥ 0.95 on clustered data)."""
    return min(nlist, max(8, math.ceil(nlist / 32)))


class IVFStore:
    """``IndexIVFFlat`` (inner product for cosine, L2 for euclidean) behind ``FlatStore``'s protocol.

    ``nprobe`` trades speed for recall; ``None`` picks ``default_nprobe(nlist)`` at training.
    ``train_at`` defaults to the module's ``TRAIN_AT`` (read when the store is made).
    """

    def __init__(
        self,
        dim: int,
        metric: str = "cosine",
        *,
        train_at: int | None = None,
        nprobe: int | None = None,
    ) -> None:
        if metric not in METRICS:
            raise InputError(f"metric must be one of {METRICS}, got {metric!r}")
        train_at = TRAIN_AT if train_at is None else int(train_at)
        if train_at < 39:
            raise InputError(f"train_at must be >= 39 (k-means needs data), got {train_at}")
        self.dim = int(dim)
        self.metric = metric
        self.train_at = train_at
        self._nprobe = nprobe
        self._exact: FlatStore | None = FlatStore(self.dim, metric)
        self.index: faiss.IndexIVFFlat | None = None

    @property
    def trained(self) -> bool:
        """True once vectors live in the IVF index (searches are approximate)."""
        return self.index is not None

    @property
    def nprobe(self) -> int | None:
        """Lists visited per search (``None`` before training)."""
        return None if self.index is None else int(self.index.nprobe)

    @nprobe.setter
    def nprobe(self, value: int) -> None:
        if int(value) < 1:
            raise InputError(f"nprobe must be >= 1, got {value}")
        self._nprobe = int(value)
        if self.index is not None:
            self.index.nprobe = min(int(value), self.index.nlist)

    def __len__(self) -> int:
        return len(self._exact) if self.index is None else int(self.index.ntotal)

    def prepare(self, vectors: np.ndarray, what: str = "vectors") -> np.ndarray:
        """Validate and, for cosine, normalise vectors before they meet the index."""
        array = as_float32_matrix(vectors, self.dim, what)
        return normalize_rows(array) if self.metric == "cosine" else array

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add ``vectors`` (N×d) under int64 ``ids`` (N); trains once ``train_at`` is reached."""
        if self.index is not None:
            ids = np.ascontiguousarray(ids, dtype=np.int64)
            vectors = self.prepare(vectors)
            if ids.shape != (vectors.shape[0],):
                raise InputError(
                    f"{vectors.shape[0]} vectors need as many ids, got shape {ids.shape}"
                )
            self.index.add_with_ids(vectors, ids)
            return
        assert self._exact is not None
        self._exact.add(ids, vectors)
        if len(self._exact) >= self.train_at:
            self.train()

    def train(self) -> None:
        """Train the IVF quantiser on the vectors held now and move them in (exact → approximate)."""
        if self.index is not None:
            raise InputError("this IVF store is already trained")
        assert self._exact is not None
        count = len(self._exact)
        if count < 39:
            raise InputError(f"IVF training needs at least 39 vectors, the store holds {count}")
        flat = faiss.downcast_index(self._exact.index.index)  # the IndexFlat in the id map
        vectors = faiss.rev_swig_ptr(flat.get_xb(), count * self.dim).reshape(count, self.dim)
        ids = self._exact.ids()
        nlist = default_nlist(count)
        metric = faiss.METRIC_INNER_PRODUCT if self.metric == "cosine" else faiss.METRIC_L2
        quantizer = (
            faiss.IndexFlatIP(self.dim) if self.metric == "cosine" else faiss.IndexFlatL2(self.dim)
        )
        index = faiss.IndexIVFFlat(quantizer, self.dim, nlist, metric)
        index.cp.max_points_per_centroid = TRAIN_POINTS_PER_LIST
        index.cp.niter = TRAIN_ITERATIONS
        index.cp.seed = 1234
        index.train(vectors)
        index.add_with_ids(vectors, ids)
        index.nprobe = min(nlist, self._nprobe or default_nprobe(nlist))
        self.index, self._exact = index, None

    def remove(self, ids: np.ndarray) -> int:
        """Remove ``ids``; returns how many were present."""
        if self.index is None:
            assert self._exact is not None
            return self._exact.remove(ids)
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        if ids.size == 0:
            return 0
        return int(self.index.remove_ids(faiss.IDSelectorBatch(ids)))

    def search_prepared(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Search validated/normalised float32 queries (N×d); scores higher-is-better."""
        if self.index is None:
            assert self._exact is not None
            return self._exact.search_prepared(queries, k)
        scores, ids = search(self.index, queries, k)
        if self.metric == "euclidean":
            np.negative(scores, out=scores)
        scores[ids < 0] = -np.inf
        return scores, ids

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` scores (N×k float32) and ids (N×k int64, −1 where none was found)."""
        if k < 1:
            raise InputError(f"k must be >= 1, got {k}")
        return self.search_prepared(self.prepare(queries, "queries"), int(k))

    def ids(self) -> np.ndarray:
        """All stored ids (int64)."""
        if self.index is None:
            assert self._exact is not None
            return self._exact.ids()
        lists = self.index.invlists
        parts = [
            faiss.rev_swig_ptr(lists.get_ids(i), lists.list_size(i)).copy()
            for i in range(self.index.nlist)
            if lists.list_size(i)
        ]
        return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the index (flat before training, IVF after) in FAISS's binary format."""
        if self.index is None:
            assert self._exact is not None
            self._exact.save(path)
        else:
            faiss.write_index(self.index, os.fspath(path))

    @classmethod
    def load(cls, path: str | os.PathLike[str], dim: int, metric: str) -> IVFStore:
        """Read an index written by ``save``; an untrained store comes back untrained."""
        index = read_checked_index(path, dim, metric)
        store = cls(dim, metric)
        if isinstance(index, faiss.IndexIDMap2):
            store._exact = FlatStore.from_index(index, path)
            return store
        if not isinstance(index, faiss.IndexIVFFlat):
            raise StoreFormatError(f"FAISS index {path} is neither IndexIVFFlat nor IndexIDMap2")
        store.index, store._exact, store._nprobe = index, None, int(index.nprobe)
        return store
