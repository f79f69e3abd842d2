"""The metric space queries and classes meet in: an optional projection head, then the metric."""

from __future__ import annotations

import numpy as np

from fewshot.classifier.inputs import CHUNK_ROWS
from fewshot.heads.projection import ProjectionHead
from fewshot.metrics import Metric


class MetricSpace:
    """Maps raw embeddings (N, d) to where they are compared: ``head`` (if any), then unit
    length for cosine. Immutable: a new head means a new space (and a rebuilt catalog)."""

    def __init__(self, metric: Metric, head: ProjectionHead | None = None) -> None:
        self.metric = metric
        self.head = head

    def __call__(self, embeddings: np.ndarray) -> np.ndarray:
        """Raw embeddings (N, d) float32 → metric-space rows (N, d) float32 (a new array)."""
        if self.head is not None:
            embeddings = self.head.transform(embeddings)
        return self.metric.prepare(embeddings)

    def sum(self, shots: np.ndarray) -> np.ndarray:
        """Sum of shots (N, d) in this space (d,) float64, chunk by chunk."""
        total = np.zeros(shots.shape[1], dtype=np.float64)
        for start in range(0, len(shots), CHUNK_ROWS):
            total += self(shots[start : start + CHUNK_ROWS]).sum(axis=0, dtype=np.float64)
        return total

    def prototype(self, shots: np.ndarray) -> np.ndarray:
        """Mean of a class's shots in this space (1, d), summed in float64."""
        return (self.sum(shots) / len(shots)).astype(np.float32)[None, :]

    def with_head(self, head: ProjectionHead | None) -> MetricSpace:
        """The same metric with another head."""
        return MetricSpace(self.metric, head)
