"""The state a classifier holds (settings, encoder, classes, lock) and read-only views of it.

``FewShotClassifier`` adds the operations on top. The settings that shape the catalog (metric,
mode, store) are read-only after construction: they are the catalog's own, so a classifier
can never disagree with the classes it holds.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from fewshot.classifier.catalog import Catalog
from fewshot.classifier.inputs import Label, check_settings, check_threshold
from fewshot.classifier.rwlock import ReadWriteLock
from fewshot.classifier.space import MetricSpace
from fewshot.encoders import Encoder, load_encoder
from fewshot.heads.projection import ProjectionHead
from fewshot.metrics import get_metric
from fewshot.stores import VectorStore, check_store_name


class ClassifierBase:
    """Settings, encoder, catalog and lock of a few-shot classifier (see ``FewShotClassifier``)."""

    def __init__(
        self,
        encoder: Encoder | str | os.PathLike[str] | None = None,
        *,
        metric: str = "cosine",
        mode: str = "prototype",
        threshold: float | None = None,
        n_neighbors: int = 5,
        store: str = "flat",
        store_options: Mapping[str, Any] | None = None,
    ) -> None:
        space = MetricSpace(get_metric(metric))
        check_settings(mode, n_neighbors, store_options)
        if encoder is not None and not isinstance(encoder, Encoder):
            encoder = load_encoder(encoder)
        self._encoder: Encoder | None = encoder
        self._n_neighbors = int(n_neighbors)
        self._threshold = check_threshold(threshold)
        self._lock = ReadWriteLock()  # queries share it; register/remove/swaps take it alone
        dim = None if encoder is None else encoder.dim
        self._catalog = Catalog(space, mode, check_store_name(store), dim, store_options)

    # ----------------------------------------------------------------------------- settings
    @property
    def encoder(self) -> Encoder | None:
        """The encoder inputs pass through (``None``: inputs are feature vectors)."""
        return self._encoder

    @property
    def metric(self) -> str:
        return self._catalog.space.metric.name

    @property
    def mode(self) -> str:
        return self._catalog.mode

    @property
    def store(self) -> str:
        """The vector-store backend's name."""
        return self._catalog.store

    @property
    def store_options(self) -> dict[str, Any]:
        return dict(self._catalog.store_options)

    @property
    def n_neighbors(self) -> int:
        """Nearest shots that vote in ``knn`` mode."""
        return self._n_neighbors

    @n_neighbors.setter
    def n_neighbors(self, value: int) -> None:
        check_settings(self.mode, value, None)
        self._n_neighbors = int(value)

    @property
    def labels(self) -> list[Label]:
        """Registered labels, in registration order."""
        with self._lock.read():
            return self._catalog.labels

    @property
    def dim(self) -> int | None:
        """Embedding dimension (``None`` until known)."""
        return self._catalog.dim

    @property
    def head(self) -> ProjectionHead | None:
        """The projection head trained by ``finetune(part="head")``, if any."""
        return self._catalog.space.head

    @property
    def index(self) -> VectorStore | None:
        """The vector store queries search (read-only use; ``None`` before the first class)."""
        return self._catalog.index

    @property
    def threshold(self) -> float | None:
        """Queries whose best score is below this are rejected (``None``: reject nothing)."""
        return self._threshold

    @threshold.setter
    def threshold(self, value: float | None) -> None:
        checked = check_threshold(value)
        with self._lock.write():
            self._threshold = checked

    def __len__(self) -> int:
        return len(self._catalog)

    def __contains__(self, label: object) -> bool:
        return label in self._catalog

    def num_shots(self, label: Label) -> int:
        """How many examples are registered for ``label``."""
        with self._lock.read():
            return len(self._catalog.shots(label))

    def shots(self, label: Label) -> np.ndarray:
        """A copy of the raw embeddings registered for ``label`` (shots×d)."""
        with self._lock.read():
            return self._catalog.shots(label).copy()

    def examples(self, label: Label) -> list[Any]:
        """The texts registered for ``label`` (a copy; empty without an encoder or for non-text)."""
        with self._lock.read():
            return list(self._catalog.examples(label))

    def __repr__(self) -> str:
        encoder = None if self.encoder is None else self.encoder.spec
        return (
            f"FewShotClassifier(encoder={encoder}, metric={self.metric!r}, mode={self.mode!r}, "
            f"threshold={self.threshold}, classes={len(self)})"
        )

    def get_settings(self) -> dict[str, Any]:
        """The constructor keywords (besides ``encoder``) that rebuild this classifier's setup."""
        return {
            "metric": self.metric,
            "mode": self.mode,
            "threshold": self.threshold,
            "n_neighbors": self.n_neighbors,
            "store": self.store,
            "store_options": dict(self.store_options),
        }
