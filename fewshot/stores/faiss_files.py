"""FAISS index files and metric codes: reading an index back and checking it is the one expected."""

from __future__ import annotations

import os

from fewshot.errors import StoreFormatError
from fewshot.metrics import Metric
from fewshot.runtime import faiss


def faiss_metric(metric: Metric) -> int:
    """FAISS's metric code: inner product for cosine (unit rows), L2 for euclidean."""
    return faiss.METRIC_INNER_PRODUCT if metric.inner_product else faiss.METRIC_L2


def flat_index(dim: int, metric: Metric) -> faiss.Index:
    """An exact flat index for ``metric``: ``IndexFlatIP`` or ``IndexFlatL2``."""
    return faiss.IndexFlatIP(dim) if metric.inner_product else faiss.IndexFlatL2(dim)


def read_checked_index(path: str | os.PathLike[str], dim: int, metric: Metric) -> faiss.Index:
    """Read a FAISS index file; a clear error if it is unreadable or not ``dim``-d ``metric``."""
    try:
        index = faiss.read_index(os.fspath(path))
    except RuntimeError as exc:
        raise StoreFormatError(f"cannot read FAISS index {path}: {exc}") from exc
    if index.d != dim or index.metric_type != faiss_metric(metric):
        raise StoreFormatError(
            f"FAISS index {path} has d={index.d}, metric {index.metric_type}; "
            f"the manifest says d={dim}, {metric.name}"
        )
    return index
