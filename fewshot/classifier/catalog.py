"""The registered classes of one label set: the ``ClassCatalog`` protocol and ``Catalog``, its
in-process implementation (raw shots, raw texts, ids, and the vector store queries search).

Another implementation keeps the classes in a database table (``fewshot.stores.pgvector``); the
classifier reaches either only through the protocol. In ``Catalog``'s ``prototype`` mode the store holds one vector per class (the mean of its shots in metric
space, replaced whenever the class grows); in ``knn`` mode it holds every shot. A change is
applied in one remove and one add after everything was validated, so a failed call changes
nothing. The catalog is not thread-safe by itself: the classifier's lock guards it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from fewshot.classifier.inputs import CHUNK_ROWS, MODES, Label
from fewshot.classifier.space import MetricSpace
from fewshot.errors import StoreFormatError, UnknownLabelError
from fewshot.stores import VectorStore, make_store

__all__ = ["MODES", "Catalog", "CatalogState", "ClassCatalog"]


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


class Catalog:
    """Classes in registration order, each with its shots, texts and store ids.

    Arguments:
        space: where vectors are compared (``MetricSpace``).
        mode: ``"prototype"`` or ``"knn"`` (what the store holds).
        store: vector-store backend name (``fewshot.stores``).
        dim: embedding size, or ``None`` until the first class arrives.
    """

    def __init__(
        self,
        space: MetricSpace,
        mode: str,
        store: str,
        dim: int | None,
        store_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.space, self.mode, self.store = space, mode, store
        self.store_options = dict(store_options or {})
        self.dim = dim
        self.version = 0  # bumped by every change, so a copy can tell whether it is current
        self._shots: dict[Label, np.ndarray] = {}
        self._examples: dict[Label, list[Any]] = {}
        self._ids: dict[Label, np.ndarray] = {}
        self._label_by_id = np.empty(0, dtype=object)  # store id → label (None when free)
        self._next_id = 0
        self._index: VectorStore | None = None

    # ------------------------------------------------------------------------------ reading
    @property
    def labels(self) -> list[Label]:
        return list(self._shots)

    @property
    def index(self) -> VectorStore | None:
        """The vector store queries search (``None`` before the first class)."""
        return self._index

    def __len__(self) -> int:
        return len(self._shots)

    def __contains__(self, label: object) -> bool:
        try:
            return label in self._shots
        except TypeError:  # unhashable
            return False

    def shots(self, label: Label) -> np.ndarray:
        """The raw embeddings of ``label`` (the catalog's own array: copy before changing it)."""
        try:
            return self._shots[label]
        except (KeyError, TypeError):
            known = ", ".join(repr(name) for name in list(self._shots)[:10])
            more = "" if len(self._shots) <= 10 else f" and {len(self._shots) - 10} more"
            raise UnknownLabelError(
                f"label {label!r} is not registered (known: {known or 'none'}{more})"
            ) from None

    def num_shots(self, label: Label) -> int:
        return len(self.shots(label))

    def examples(self, label: Label) -> list[Any]:
        """The texts kept for ``label`` (empty without an encoder or for non-text inputs)."""
        self.shots(label)
        return self._examples.get(label, [])

    def incomplete(self) -> list[Label]:
        """Labels some of whose shots have no kept text (they cannot be re-embedded)."""
        return [
            label
            for label, shots in self._shots.items()
            if len(self._examples.get(label, ())) != len(shots)
        ]

    def max_shots(self) -> int:
        return max((len(shots) for shots in self._shots.values()), default=0)

    # ------------------------------------------------------------------------------ changing
    def add(self, embedded: Mapping[Label, np.ndarray], raw: Mapping[Label, list[Any]]) -> None:
        """Add validated embeddings by label (a new label is a new class); texts are kept only
        when every input of a label is a string (images would hold decoded pixels)."""
        if not embedded:
            return
        index = self._ensure_index(next(iter(embedded.values())).shape[1])
        if self.mode == "prototype":
            self._add_prototypes(index, embedded)
        else:
            self._add_shots(index, embedded)
        for label, items in raw.items():
            if items and all(isinstance(item, str) for item in items):
                self._examples.setdefault(label, []).extend(items)
        self.version += 1

    def _add_prototypes(self, index: VectorStore, new: Mapping[Label, np.ndarray]) -> None:
        stale = [self._ids[label] for label in new if label in self._ids]
        fresh = self._new_ids(sum(1 for label in new if label not in self._ids))
        ids, taken = [], 0
        for label in new:
            if label in self._ids:
                ids.append(self._ids[label])
            else:
                ids.append(fresh[taken : taken + 1])
                taken += 1
        merged = {label: self._merged(label, shots) for label, shots in new.items()}
        vectors = np.concatenate([self.space.prototype(shots) for shots in merged.values()])
        if stale:
            index.remove(np.concatenate(stale))
        index.add(vectors, np.concatenate(ids))
        for label_ids, (label, shots) in zip(ids, merged.items()):
            self._shots[label], self._ids[label] = shots, label_ids
            self._label_by_id[label_ids] = label

    def _add_shots(self, index: VectorStore, new: Mapping[Label, np.ndarray]) -> None:
        for label, shots in new.items():
            ids = self._new_ids(len(shots))
            for start in range(0, len(shots), CHUNK_ROWS):
                part = slice(start, start + CHUNK_ROWS)
                index.add(self.space(shots[part]), ids[part])
            self._label_by_id[ids] = label
            self._shots[label] = self._merged(label, shots)
            self._ids[label] = (
                np.concatenate([self._ids[label], ids]) if label in self._ids else ids
            )

    def _merged(self, label: Label, shots: np.ndarray) -> np.ndarray:
        return np.concatenate([self._shots[label], shots]) if label in self._shots else shots

    def _ensure_index(self, dim: int) -> VectorStore:
        if self._index is None:
            self.dim = dim
            self._index = make_store(self.store, dim, self.space.metric, **self.store_options)
        return self._index

    def _new_ids(self, count: int) -> np.ndarray:
        ids = np.arange(self._next_id, self._next_id + count, dtype=np.int64)
        self._next_id += count
        if self._next_id > len(self._label_by_id):
            grown = np.empty(max(self._next_id, 2 * len(self._label_by_id), 64), dtype=object)
            grown[: len(self._label_by_id)] = self._label_by_id
            self._label_by_id = grown
        return ids

    def remove(self, label: Label) -> None:
        """Forget ``label``, its shots and texts (UnknownLabelError if it is not registered)."""
        self.shots(label)
        ids = self._ids.pop(label)
        del self._shots[label]
        self._examples.pop(label, None)
        if self._index is not None:
            self._index.remove(ids)
        self._label_by_id[ids] = None
        self.version += 1

    def rebuilt(
        self,
        space: MetricSpace,
        shots: Mapping[Label, np.ndarray],
        examples: Mapping[Label, list[Any]],
    ) -> Catalog:
        """A new catalog like this one, in ``space``, holding ``shots`` (label → raw
        embeddings) and ``examples`` (label → texts); this one is unchanged."""
        fresh = Catalog(space, self.mode, self.store, self.dim, self.store_options)
        fresh.add(dict(shots), examples)
        return fresh

    # ------------------------------------------------------------------------------ searching
    def nearest(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` stored vectors for metric-space queries (N×d): scores (N×k) and their
        labels (N×k object array, ``None`` where fewer than ``k`` exist)."""
        if self._index is None:
            return np.full((len(queries), k), -np.inf, np.float32), np.full(
                (len(queries), k), None, object
            )
        scores, ids = self._index.search_prepared(queries, k)
        labels = self._label_by_id[np.maximum(ids, 0)]
        labels[ids < 0] = None
        return scores, labels

    def stored(self) -> int:
        """Vectors in the store (classes in prototype mode, shots in knn mode)."""
        return 0 if self._index is None else len(self._index)

    # ------------------------------------------------------------------------------ snapshots
    def state(self) -> CatalogState:
        """What a snapshot writes (texts only when every shot kept its text)."""
        examples = None
        if self._shots and not self.incomplete():
            examples = {label: self._examples[label] for label in self._shots}
        return CatalogState(
            self.dim, self._next_id, dict(self._shots), dict(self._ids), examples, self._index
        )

    @classmethod
    def restore(
        cls,
        space: MetricSpace,
        mode: str,
        store: str,
        state: CatalogState,
        store_options: Mapping[str, Any] | None = None,
    ) -> Catalog:
        """A catalog holding a snapshot's state; its store must hold exactly the listed ids."""
        catalog = cls(space, mode, store, state.dim, store_options)
        catalog._index, catalog._next_id = state.index, state.next_id
        catalog._label_by_id = np.empty(max(state.next_id, 64), dtype=object)
        for label, shots in state.shots.items():
            ids = state.ids[label]
            catalog._shots[label], catalog._ids[label] = shots, ids
            catalog._label_by_id[ids] = label
            if state.examples is not None:
                catalog._examples[label] = list(state.examples[label])
        listed = np.sort(np.concatenate(list(state.ids.values()))) if state.ids else np.zeros(0)
        stored = np.sort(state.index.ids()) if state.index is not None else np.zeros(0)
        if not np.array_equal(stored, listed):
            raise StoreFormatError("the saved index does not hold the ids the manifest lists")
        return catalog
