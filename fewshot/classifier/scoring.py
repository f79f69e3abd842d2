"""From metric-space queries to answers: the prototype and kNN strategies, and ``QueryResult``.

Both strategies ask the catalog for the nearest stored vectors with their labels. In
``prototype`` mode those are the class means, so they are the answer. In ``knn`` mode they are
shots, and each label's score is the similarity-weighted vote of its shots among the
``n_neighbors`` nearest.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from fewshot.classifier.inputs import CHUNK_ROWS, Label, feature_chunk
from fewshot.classifier.label_sets import DEFAULT_SET
from fewshot.errors import InputError, NotReadyError
from fewshot.metrics import Metric


@dataclass(frozen=True)
class QueryResult:
    """Top-k answers for a batch of N queries, best first.

    ``labels``: N×k object array (``None`` where fewer than k classes exist);
    ``scores``: N×k float32, higher is better (cosine similarity, or −squared distance);
    ``rejected``: N booleans, True where the best score is below the classifier's threshold.
    """

    labels: np.ndarray
    scores: np.ndarray
    rejected: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


class Searchable(Protocol):
    """What the strategies need from a catalog."""

    mode: str

    @property
    def dim(self) -> int | None: ...
    @property
    def space(self) -> Callable[[np.ndarray], np.ndarray]: ...
    def nearest(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]: ...
    def stored(self) -> int: ...
    def max_shots(self) -> int: ...
    def __len__(self) -> int: ...


#: ``query`` pads results with ``None`` up to this ``k`` when fewer classes exist; a larger
#: ``k`` than the classes is refused, so a typo cannot allocate an N × 10¹² result.
MAX_PADDED_K = 1024


def require_classes(catalogs: Mapping[str, Searchable], k: int = 1) -> None:
    """NotReadyError unless every named label set holds a class; InputError for a ``k`` beyond
    both a set's classes and ``MAX_PADDED_K``."""
    for name, catalog in catalogs.items():
        classes = len(catalog)
        where = "" if name == DEFAULT_SET else f" in label set {name!r}"
        if not classes:
            raise NotReadyError(
                f"no class is registered{where} yet: call register(label, examples) first"
            )
        if k > max(classes, MAX_PADDED_K):
            raise InputError(
                f"k={k} asks for more answers than the {classes} registered classes{where}; "
                f"results are padded with None only up to k={MAX_PADDED_K}: ask for at most "
                f"{classes}"
            )


def answer_sets(
    catalogs: Mapping[str, Searchable],
    rows: np.ndarray,
    k: int,
    n_neighbors: int,
    threshold: float | None,
    metric: Metric,
    *,
    features: bool,
) -> dict[str, QueryResult]:
    """One ``QueryResult`` per label set for the same rows (N×d), from ``answer``."""
    results = {}
    for name, catalog in catalogs.items():
        labels, scores = answer(catalog, rows, k, n_neighbors, metric, features=features)
        results[name] = QueryResult(labels, scores, rejections(scores, threshold))
    return results


def answer(
    catalog: Searchable,
    rows: np.ndarray,
    k: int,
    n_neighbors: int,
    metric: Metric,
    *,
    features: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Labels and scores (N×k each) for raw rows (N×d), in chunks of ``CHUNK_ROWS``.

    ``features``: the rows are the caller's feature array, validated chunk by chunk here (so a
    huge batch is never copied whole); otherwise they are encoder output, already checked.
    """
    labels = np.full((len(rows), k), None, dtype=object)
    scores = np.full((len(rows), k), -np.inf, dtype=np.float32)
    for start in range(0, len(rows), CHUNK_ROWS):
        part = slice(start, start + CHUNK_ROWS)
        chunk = feature_chunk(rows, start, catalog.dim, "batch") if features else rows[part]
        queries = catalog.space(chunk)
        if catalog.mode == "prototype":
            labels[part], scores[part] = prototype_answers(catalog, queries, k)
        else:
            labels[part], scores[part] = knn_answers(catalog, queries, k, n_neighbors, metric)
    return labels, scores


def prototype_answers(
    catalog: Searchable, queries: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Labels (N×k) and scores (N×k) of the ``k`` nearest class prototypes."""
    scores, labels = catalog.nearest(queries, k)
    return labels, scores


def knn_answers(
    catalog: Searchable, queries: np.ndarray, k: int, n_neighbors: int, metric: Metric
) -> tuple[np.ndarray, np.ndarray]:
    """Similarity-weighted vote among the ``n_neighbors`` nearest shots.

    A label's score is the sum of its neighbours' similarities divided by ``n_neighbors``
    (cosine similarity; ``1/(1+d²)`` for euclidean). Labels first met beyond the nearest
    ``n_neighbors`` rank after with their single best similarity / ``n_neighbors``.
    """
    depth = min(catalog.stored(), max(n_neighbors, k * catalog.max_shots()))
    raw, neighbour_labels = catalog.nearest(queries, max(depth, 1))
    similarity = metric.similarity(raw)
    labels = np.full((len(queries), k), None, dtype=object)
    scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
    for row in range(len(queries)):
        votes: dict[Label, float] = {}
        for rank, (label, value) in enumerate(zip(neighbour_labels[row], similarity[row])):
            if label is None:
                continue
            if rank < n_neighbors:
                votes[label] = votes.get(label, 0.0) + float(value)
            elif label not in votes:
                votes[label] = float(value)
        ranked = sorted(votes.items(), key=lambda item: -item[1])[:k]
        for column, (label, value) in enumerate(ranked):
            labels[row, column] = label
            scores[row, column] = value / n_neighbors
    return labels, scores


def rejections(scores: np.ndarray, threshold: float | None) -> np.ndarray:
    """N booleans: whose best score (column 0 of N×k ``scores``) is below ``threshold``."""
    if threshold is None or not len(scores):
        return np.zeros(len(scores), dtype=bool)
    return scores[:, 0] < threshold
