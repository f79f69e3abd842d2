"""The state a classifier holds (settings, encoder, classes, lock) and read-only views of it.

``FewShotClassifier`` adds the operations on top. The settings that shape the classes (metric,
mode, store) are read-only after construction: they are the label sets' own, so a classifier
can never disagree with the classes it holds. Calls that name no ``label_set`` use
``DEFAULT_SET``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from fewshot.classifier.backends import open_label_sets
from fewshot.classifier.catalog import ClassCatalog
from fewshot.classifier.inputs import Label, check_settings, check_threshold
from fewshot.classifier.label_sets import DEFAULT_SET, LabelSets, check_label_set
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
        check_threshold(threshold)
        if encoder is not None and not isinstance(encoder, Encoder):
            encoder = load_encoder(encoder)
        dim = None if encoder is None else encoder.dim
        sets = open_label_sets(space, mode, check_store_name(store), dim, store_options)
        self._adopt(encoder, threshold, n_neighbors, sets)

    def _adopt(
        self, encoder: Encoder | None, threshold: Any, n_neighbors: Any, sets: LabelSets
    ) -> None:
        """Take ``sets`` as this classifier's classes (construction and ``load``)."""
        check_settings(sets.mode, n_neighbors, None)
        self._encoder: Encoder | None = encoder
        self._n_neighbors = int(n_neighbors)
        self._threshold = check_threshold(threshold)
        self._lock = ReadWriteLock()  # queries share it; register/remove/swaps take it alone
        self._sets: LabelSets = sets

    def _catalog(self, label_set: str = DEFAULT_SET) -> ClassCatalog:
        """The catalog of one label set (checked name; empty if the set holds nothing)."""
        return self._sets.get(check_label_set(label_set))

    # ----------------------------------------------------------------------------- settings
    @property
    def encoder(self) -> Encoder | None:
        """The encoder inputs pass through (``None``: inputs are feature vectors)."""
        return self._encoder

    @property
    def metric(self) -> str:
        return self._sets.space.metric.name

    @property
    def mode(self) -> str:
        return self._sets.mode

    @property
    def store(self) -> str:
        """The store backend's name."""
        return self._sets.store

    @property
    def store_options(self) -> dict[str, Any]:
        """The backend's settings (never a password)."""
        return dict(self._sets.store_options)

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
        """Registered labels of the default label set, in registration order."""
        return self.labels_in(DEFAULT_SET)

    def labels_in(self, label_set: str) -> list[Label]:
        """Registered labels of ``label_set``, in registration order."""
        with self._lock.read():
            return self._catalog(label_set).labels

    @property
    def label_sets(self) -> list[str]:
        """The label sets that hold at least one class."""
        with self._lock.read():
            return self._sets.names()

    @property
    def dim(self) -> int | None:
        """Embedding dimension (``None`` until known)."""
        return self._sets.dim

    @property
    def head(self) -> ProjectionHead | None:
        """The projection head trained by ``finetune(part="head")``, if any."""
        return self._sets.space.head

    @property
    def index(self) -> VectorStore | None:
        """The in-process vector store the default label set searches (read-only use;
        ``None`` before the first class, and for a database backend)."""
        return self._catalog().index

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
        """Classes in the default label set."""
        return len(self._catalog())

    def __contains__(self, label: object) -> bool:
        return label in self._catalog()

    def num_shots(self, label: Label, *, label_set: str = DEFAULT_SET) -> int:
        """How many examples are registered for ``label``."""
        with self._lock.read():
            return self._catalog(label_set).num_shots(label)

    def shots(self, label: Label, *, label_set: str = DEFAULT_SET) -> np.ndarray:
        """A copy of the raw embeddings registered for ``label`` (shots×d)."""
        with self._lock.read():
            return self._catalog(label_set).shots(label).copy()

    def examples(self, label: Label, *, label_set: str = DEFAULT_SET) -> list[Any]:
        """The texts registered for ``label`` (a copy; empty without an encoder or for non-text)."""
        with self._lock.read():
            return list(self._catalog(label_set).examples(label))

    def close(self) -> None:
        """Release the backend's connections (a database backend); in-process stores keep
        working. Safe to call twice."""
        self._sets.close()

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
