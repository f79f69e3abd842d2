"""The registered classes of one label set: the ``ClassCatalog`` protocol the classifier uses.

Two implementations: ``local_catalog.Catalog`` keeps them in this process over a FAISS vector
store, ``fewshot.stores.pgvector`` in a database table shared by processes. The classifier
reaches either only through this protocol, and ``CatalogState`` is what a file snapshot holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from fewshot.classifier.inputs import Label
from fewshot.classifier.space import MetricSpace
from fewshot.stores import VectorStore

__all__ = ["CatalogState", "ClassCatalog"]


@dataclass(frozen=True)
class CatalogState:
    """Everything a snapshot stores of a catalog (arrays are the catalog's own: do not edit)."""

    dim: int | None
    next_id: int
    shots: dict[Label, np.ndarray]  # label → raw embeddings (shots×d), in registration order
    ids: dict[Label, np.ndarray]  # label → its ids in the store
    examples: dict[Label, list[Any]] | None  # label → raw texts, or None if any are missing
    index: VectorStore | None


class ClassCatalog(Protocol):
    """One label set's classes, as the classifier uses them (not thread-safe by itself).

    Embeddings are raw (N×d float32, before the metric space); ``nearest`` takes metric-space
    queries. Readers of a shared backend see its current state, not a copy.
    """

    space: MetricSpace
    mode: str  # "prototype" | "knn"
    store: str  # backend name
    version: int  # bumped by each change made through this object

    @property
    def store_options(self) -> dict[str, Any]: ...  # the backend's settings, without secrets
    @property
    def dim(self) -> int | None: ...  # embedding size, None until known
    @property
    def index(self) -> VectorStore | None: ...  # the in-process store, if there is one
    @property
    def labels(self) -> list[Label]: ...  # in registration order
    def __len__(self) -> int: ...
    def __contains__(self, label: object) -> bool: ...
    def shots(self, label: Label) -> np.ndarray: ...  # shots×d, UnknownLabelError if absent
    def num_shots(self, label: Label) -> int: ...
    def examples(self, label: Label) -> list[Any]: ...  # kept texts
    def incomplete(self) -> list[Label]: ...  # labels with shots that kept no text
    def max_shots(self) -> int: ...
    def add(self, embedded: Mapping[Label, np.ndarray], raw: Mapping[Label, list[Any]]) -> None: ...
    def remove(self, label: Label) -> None: ...
    def rebuilt(
        self,
        space: MetricSpace,
        shots: Mapping[Label, np.ndarray],
        examples: Mapping[Label, list[Any]],
    ) -> ClassCatalog: ...
    def nearest(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]: ...
    def stored(self) -> int: ...  # vectors searched: classes (prototype) or shots (knn)
    def state(self) -> CatalogState: ...  # what a file snapshot holds
