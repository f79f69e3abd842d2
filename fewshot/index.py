"""The class store: a FAISS index of metric-space vectors with integer ids, behind a small protocol.

Scores are "higher is better" for every metric: cosine similarity for ``cosine`` (vectors are
L2-normalised on the way in), negative squared distance for ``euclidean``. Missing results
(k larger than the store) come back as id −1 with score −inf.
"""

from __future__ import annotations

import os
from typing import Protocol, runtime_checkable

import numpy as np

from fewshot.errors import InputError, StoreFormatError
from fewshot.runtime import faiss, search

METRICS = ("cosine", "euclidean")


@runtime_checkable
class VectorStore(Protocol):
    """What the classifier needs from a vector index; other backends implement the same."""

    dim: int
    metric: str

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None: ...
    def remove(self, ids: np.ndarray) -> int: ...
    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]: ...
    def search_prepared(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]: ...
    def ids(self) -> np.ndarray: ...
    def save(self, path: str | os.PathLike[str]) -> None: ...
    def __len__(self) -> int: ...


def as_float32_matrix(
    vectors: np.ndarray, dim: int | None, what: str, first_row: int = 0
) -> np.ndarray:
    """Validate an ``N×d`` batch and return it as float32 C-contiguous (FAISS copies otherwise).

    ``first_row`` is where this batch starts in the caller's, so errors name the caller's row.
    """
    array = np.asarray(vectors)
    if array.ndim != 2:
        raise InputError(f"`{what}` must be a 2-D array N×d, got shape {array.shape}")
    if dim is not None and array.shape[1] != dim:
        raise InputError(
            f"`{what}` has dimension {array.shape[1]}, but the store holds {dim}-d vectors"
        )
    if array.dtype.kind not in "iuf":  # real numbers (bool, complex, object... are refused)
        raise InputError(f"`{what}` must be real numbers, got dtype {array.dtype}")
    array = np.ascontiguousarray(array, dtype=np.float32)
    if not np.isfinite(array).all():
        bad = first_row + int(np.flatnonzero(~np.isfinite(array).all(axis=1))[0])
        raise InputError(f"`{what}` row {bad} contains NaN or infinite values")
    return array


def normalize_rows(vectors: np.ndarray) -> np.ndarray:
    """Unit-length rows (a zero row stays zero); returns a new float32 array.

    Each row is first divided by its largest magnitude, so squares of tiny (~1e-38) or huge
    (~1e30) values neither underflow to a zero norm nor overflow to inf, as with
    ``faiss.normalize_L2``, which left such rows unnormalised or zeroed.
    """
    out = np.array(vectors, dtype=np.float32, copy=True, order="C")
    scale = np.abs(out).max(axis=1, keepdims=True) if out.size else np.ones((len(out), 1))
    np.divide(out, scale, out=out, where=scale > 0)
    norms = np.sqrt(np.einsum("ij,ij->i", out, out))[:, None]
    np.divide(out, norms, out=out, where=norms > 0)
    return out


class FlatStore:
    """Exact search: ``IndexIDMap2`` over ``IndexFlatIP`` (cosine) or ``IndexFlatL2`` (euclidean)."""

    def __init__(self, dim: int, metric: str = "cosine") -> None:
        if metric not in METRICS:
            raise InputError(f"metric must be one of {METRICS}, got {metric!r}")
        if int(dim) < 1:
            raise InputError(f"dim must be >= 1, got {dim}")
        self.dim = int(dim)
        self.metric = metric
        flat = faiss.IndexFlatIP(self.dim) if metric == "cosine" else faiss.IndexFlatL2(self.dim)
        self.index = faiss.IndexIDMap2(flat)

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def prepare(self, vectors: np.ndarray, what: str = "vectors") -> np.ndarray:
        """Validate and, for cosine, normalise vectors before they meet the index."""
        array = as_float32_matrix(vectors, self.dim, what)
        return normalize_rows(array) if self.metric == "cosine" else array

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add ``vectors`` (N×d) under int64 ``ids`` (N)."""
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        vectors = self.prepare(vectors)
        if ids.shape != (vectors.shape[0],):
            raise InputError(f"{vectors.shape[0]} vectors need as many ids, got shape {ids.shape}")
        self.index.add_with_ids(vectors, ids)

    def remove(self, ids: np.ndarray) -> int:
        """Remove ``ids``; returns how many were present."""
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        if ids.size == 0:
            return 0
        return int(self.index.remove_ids(faiss.IDSelectorBatch(ids)))

    def search_prepared(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Search already validated/normalised float32 queries; scores higher-is-better.

        Searches the flat index inside the id map and maps rows to ids with numpy: the id map's
        own search adds an OpenMP region, which cost ~0.6 ms per call on a loaded machine.
        """
        scores, rows = search(self.index.index, queries, k)
        count = int(self.index.ntotal)
        if count == 0:
            return np.full_like(scores, -np.inf), np.full_like(rows, -1)
        ids = faiss.rev_swig_ptr(self.index.id_map.data(), count)[rows]  # row −1 → fixed below
        if self.metric == "euclidean":
            np.negative(scores, out=scores)
        missing = rows < 0
        if missing.any():
            ids[missing] = -1
            scores[missing] = -np.inf
        return scores, ids

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` scores (N×k float32) and ids (N×k int64, −1 where fewer than k exist)."""
        if k < 1:
            raise InputError(f"k must be >= 1, got {k}")
        return self.search_prepared(self.prepare(queries, "queries"), int(k))

    def reconstruct(self, ids: np.ndarray) -> np.ndarray:
        """The stored (normalised) vectors of ``ids``: ``len(ids)×d``."""
        return (
            np.stack([self.index.reconstruct(int(i)) for i in ids])
            if len(ids)
            else np.zeros((0, self.dim), np.float32)
        )

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the index with FAISS's own binary format (no pickle)."""
        faiss.write_index(self.index, os.fspath(path))

    @classmethod
    def load(cls, path: str | os.PathLike[str], dim: int, metric: str) -> FlatStore:
        """Read an index written by ``save`` and check it matches ``dim`` and ``metric``."""
        return cls.from_index(read_checked_index(path, dim, metric), path)

    @classmethod
    def from_index(cls, index: faiss.Index, path: str | os.PathLike[str]) -> FlatStore:
        """Wrap an ``IndexIDMap2`` read from ``path`` (named in the error if it is another kind)."""
        if not isinstance(index, faiss.IndexIDMap2):
            raise StoreFormatError(f"FAISS index {path} is not an IndexIDMap2")
        metric = "cosine" if index.metric_type == faiss.METRIC_INNER_PRODUCT else "euclidean"
        store = cls(index.d, metric)
        # read_index already returns the concrete class; downcast_index on it would leave the
        # id map pointing at freed memory once the original wrapper is collected.
        store.index = index
        return store

    def ids(self) -> np.ndarray:
        """All stored ids (int64)."""
        return faiss.vector_to_array(self.index.id_map).astype(np.int64)


def read_checked_index(path: str | os.PathLike[str], dim: int, metric: str) -> faiss.Index:
    """Read a FAISS index file; a clear error if it is unreadable or not ``dim``-d ``metric``."""
    try:
        index = faiss.read_index(os.fspath(path))
    except RuntimeError as exc:
        raise StoreFormatError(f"cannot read FAISS index {path}: {exc}") from exc
    expected = faiss.METRIC_INNER_PRODUCT if metric == "cosine" else faiss.METRIC_L2
    if index.d != dim or index.metric_type != expected:
        raise StoreFormatError(
            f"FAISS index {path} has d={index.d}, metric {index.metric_type}; "
            f"the manifest says d={dim}, {metric}"
        )
    return index
