"""The one vocabulary of metrics: an object that knows normalisation and score direction.

Every layer (stores, classifier, heads, episodes) names metrics the same way: ``cosine``
(rows are L2-normalised; score = cosine similarity) or ``euclidean`` (score = −‖a − b‖²).
Scores are always higher-is-better, so callers never branch on the metric to rank results.
``sqeuclidean`` is accepted as another name of ``euclidean`` (episodic training used it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fewshot.errors import InputError
from fewshot.vectors import normalize_rows


@dataclass(frozen=True)
class Metric:
    """How two vectors are compared.

    Attributes:
        name: ``"cosine"`` or ``"euclidean"``.
        normalizes: vectors are made unit-length before they are stored or searched.
        inner_product: the store searches by inner product (cosine on unit rows); otherwise
            by squared L2 distance, reported negated so that higher is better.
    """

    name: str
    normalizes: bool
    inner_product: bool

    def prepare(self, vectors: np.ndarray) -> np.ndarray:
        """Rows (N, d) as this metric compares them: unit length for cosine, else unchanged."""
        return normalize_rows(vectors) if self.normalizes else vectors

    def similarity(self, scores: np.ndarray) -> np.ndarray:
        """Scores turned into positive similarities for weighted votes: cosine as is, 1/(1+d²)."""
        return scores if self.inner_product else 1.0 / (1.0 - scores)

    def __str__(self) -> str:
        return self.name


COSINE = Metric("cosine", normalizes=True, inner_product=True)
EUCLIDEAN = Metric("euclidean", normalizes=False, inner_product=False)
METRICS: dict[str, Metric] = {"cosine": COSINE, "euclidean": EUCLIDEAN}
ALIASES = {"sqeuclidean": "euclidean"}
#: Names a user may pass, canonical names first.
METRIC_NAMES: tuple[str, ...] = (*METRICS, *ALIASES)


def get_metric(metric: str | Metric) -> Metric:
    """The ``Metric`` for a name (or the object itself); an InputError lists the choices."""
    if isinstance(metric, Metric):
        return metric
    name = ALIASES.get(metric, metric) if isinstance(metric, str) else None
    if name not in METRICS:
        raise InputError(f"metric must be one of {tuple(METRICS)}, got {metric!r}")
    return METRICS[name]
