"""Approximate class store for ≥ 10⁶ vectors: FAISS ``IndexIVFFlat`` with add / remove by id.

Until ``train_at`` vectors have arrived it is an exact ``FlatStore`` (k-means needs data, and
small stores gain nothing from IVF). The add that reaches ``train_at`` trains the coarse
quantiser on the vectors held so far (√N lists) and moves them into the IVF index; later adds go
straight in. Each search visits ``nprobe`` lists. Scores and ids follow ``VectorStore``.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from fewshot.errors import InputError, NotReadyError, StoreFormatError
from fewshot.metrics import Metric
from fewshot.runtime import faiss, search
from fewshot.stores.base import VectorStore
from fewshot.stores.faiss_files import faiss_metric, flat_index, read_checked_index
from fewshot.stores.flat import FlatStore

TRAIN_AT = 65_536  # vectors before the store trains itself (then √N ≈ 256+ lists)
TRAIN_POINTS_PER_LIST = 64  # k-means sample: 64 points per list is plenty for a coarse quantiser
TRAIN_ITERATIONS = 10
MIN_TRAIN = 39  # FAISS's k-means wants at least 39 points per centroid


def default_nlist(count: int) -> int:
    """Inverted lists for ``count`` training vectors: √N, at least 1, with ≥ 39 points per list."""
    return max(1, min(round(math.sqrt(count)), count // MIN_TRAIN))


def default_nprobe(nlist: int) -> int:
    """Lists visited per query: 1/32 of them, at least 8 (recall ≥ 0.95 on clustered data)."""
    return min(nlist, max(8, math.ceil(nlist / 32)))


class IVFStore(VectorStore):
    """``IndexIVFFlat`` (inner product for cosine, L2 for euclidean), exact until trained.

    ``nprobe`` trades speed for recall; ``None`` picks ``default_nprobe(nlist)`` at training.
    ``train_at`` defaults to the module's ``TRAIN_AT`` (read when the store is made).
    """

    name = "ivf"

    def __init__(
        self,
        dim: int,
        metric: str | Metric = "cosine",
        *,
        train_at: int | None = None,
        nprobe: int | None = None,
    ) -> None:
        super().__init__(dim, metric)
        train_at = TRAIN_AT if train_at is None else int(train_at)
        if train_at < MIN_TRAIN:
            raise InputError(
                f"train_at must be >= {MIN_TRAIN} (k-means needs data), got {train_at}"
            )
        self.train_at = train_at
        self._nprobe = nprobe
        self._exact: FlatStore | None = FlatStore(self.dim, self.metric)
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
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise InputError(f"nprobe must be an int >= 1, got {value!r}")
        self._nprobe = int(value)
        if self.index is not None:
            self.index.nprobe = min(int(value), self.index.nlist)

    def _trained_index(self) -> faiss.IndexIVFFlat:
        if self.index is None:
            raise NotReadyError("this IVF store is not trained yet")
        return self.index

    def __len__(self) -> int:
        return len(self._exact) if self._exact is not None else int(self._trained_index().ntotal)

    def _add(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        if self._exact is None:
            self._trained_index().add_with_ids(vectors, ids)
            return
        self._exact.add_prepared(vectors, ids)
        if len(self._exact) >= self.train_at:
            self.train()

    def train(self) -> None:
        """Train the IVF quantiser on the vectors held now and move them in (exact → approximate)."""
        if self._exact is None:
            raise InputError("this IVF store is already trained")
        count = len(self._exact)
        if count < MIN_TRAIN:
            raise InputError(
                f"IVF training needs at least {MIN_TRAIN} vectors, the store holds {count}"
            )
        vectors, ids = self._exact.stored_vectors(), self._exact.ids()
        nlist = default_nlist(count)
        index = faiss.IndexIVFFlat(
            flat_index(self.dim, self.metric), self.dim, nlist, faiss_metric(self.metric)
        )
        index.cp.max_points_per_centroid = TRAIN_POINTS_PER_LIST
        index.cp.niter = TRAIN_ITERATIONS
        index.cp.seed = 1234
        index.train(vectors)
        index.add_with_ids(vectors, ids)
        index.nprobe = min(nlist, self._nprobe or default_nprobe(nlist))
        self.index, self._exact = index, None

    def _remove(self, ids: np.ndarray) -> int:
        if self._exact is not None:
            return self._exact.remove(ids)
        return int(self._trained_index().remove_ids(faiss.IDSelectorBatch(ids)))

    def _search_prepared(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        if self._exact is not None:
            return self._exact.search_prepared(queries, k)
        scores, ids = search(self._trained_index(), queries, k)
        if not self.metric.inner_product:
            np.negative(scores, out=scores)
        scores[ids < 0] = -np.inf
        return scores, ids

    def ids(self) -> np.ndarray:
        """All stored ids (int64)."""
        if self._exact is not None:
            return self._exact.ids()
        index = self._trained_index()
        lists: Any = index.invlists
        parts = [
            faiss.rev_swig_ptr(lists.get_ids(i), lists.list_size(i)).copy()
            for i in range(index.nlist)
            if lists.list_size(i)
        ]
        return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the index (flat before training, IVF after) in FAISS's binary format."""
        if self._exact is not None:
            self._exact.save(path)
        else:
            faiss.write_index(self._trained_index(), os.fspath(path))

    @classmethod
    def load(cls, path: str | os.PathLike[str], dim: int, metric: str | Metric) -> IVFStore:
        """Read an index written by ``save``; an untrained store comes back untrained."""
        store = cls(dim, metric)
        index = read_checked_index(path, store.dim, store.metric)
        if isinstance(index, faiss.IndexIDMap2):
            store._exact = FlatStore(store.dim, store.metric).adopt(index, path)
            return store
        if not isinstance(index, faiss.IndexIVFFlat):
            raise StoreFormatError(f"FAISS index {path} is neither IndexIVFFlat nor IndexIDMap2")
        store.index, store._exact, store._nprobe = index, None, int(index.nprobe)
        return store
