"""``Catalog``: one label set's classes in this process (raw shots, texts, ids, a vector store).

In ``prototype`` mode the store holds one vector per class (the mean of its shots in metric
space, replaced whenever the class grows); in ``knn`` mode it holds every shot. A change is
applied in one remove and one add after everything was validated, so a failed call changes
nothing. Shots and ids are kept as the blocks they arrived in, and prototypes from running
float64 sums, so adding to a class costs the new shots only (streaming a large class in
chunks stays linear). Not thread-safe by itself: the classifier's lock guards it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from fewshot.classifier.catalog import CatalogState
from fewshot.classifier.id_labels import IdLabels
from fewshot.classifier.inputs import CHUNK_ROWS, Label
from fewshot.classifier.space import MetricSpace
from fewshot.errors import StoreFormatError, UnknownLabelError
from fewshot.stores import VectorStore, make_store


def _joined(blocks: list[np.ndarray]) -> np.ndarray:
    """The blocks as one array, merged in place so the next call is free."""
    if len(blocks) > 1:
        blocks[:] = [np.concatenate(blocks)]
    return blocks[0]


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
        self._shots: dict[Label, list[np.ndarray]] = {}  # label → blocks of raw shots×d
        self._counts: dict[Label, int] = {}
        self._sums: dict[Label, np.ndarray] = {}  # prototype mode: metric-space sum (d,) float64
        self._examples: dict[Label, list[Any]] = {}
        self._ids: dict[Label, list[np.ndarray]] = {}  # label → blocks of store ids
        self._label_by_id = IdLabels()  # store id → label
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
        return _joined(self._blocks(label))

    def _blocks(self, label: Label) -> list[np.ndarray]:
        try:
            return self._shots[label]
        except (KeyError, TypeError):
            known = ", ".join(repr(name) for name in list(self._shots)[:10])
            more = "" if len(self._shots) <= 10 else f" and {len(self._shots) - 10} more"
            raise UnknownLabelError(
                f"label {label!r} is not registered (known: {known or 'none'}{more})"
            ) from None

    def num_shots(self, label: Label) -> int:
        self._blocks(label)
        return self._counts[label]

    def examples(self, label: Label) -> list[Any]:
        """The texts kept for ``label`` (empty without an encoder or for non-text inputs)."""
        self._blocks(label)
        return self._examples.get(label, [])

    def incomplete(self) -> list[Label]:
        """Labels some of whose shots have no kept text (they cannot be re-embedded)."""
        return [
            label
            for label, count in self._counts.items()
            if len(self._examples.get(label, ())) != count
        ]

    def max_shots(self) -> int:
        return max(self._counts.values(), default=0)

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
        stale = [_joined(self._ids[label]) for label in new if label in self._ids]
        fresh = self._new_ids(sum(1 for label in new if label not in self._ids))
        ids, taken = [], 0
        for label in new:
            if label in self._ids:
                ids.append(_joined(self._ids[label]))
            else:
                ids.append(fresh[taken : taken + 1])
                taken += 1
        sums = {label: self._sums.get(label, 0.0) + self.space.sum(new[label]) for label in new}
        counts = {label: self._counts.get(label, 0) + len(new[label]) for label in new}
        vectors = np.stack([(sums[label] / counts[label]).astype(np.float32) for label in new])
        if stale:
            index.remove(np.concatenate(stale))
        index.add(vectors, np.concatenate(ids))
        for label_ids, (label, shots) in zip(ids, new.items()):
            if label not in self._ids:
                self._label_by_id.append(label_ids, label)
            self._append(label, shots, label_ids)
            self._sums[label] = sums[label]
            self._ids[label] = [label_ids]

    def _add_shots(self, index: VectorStore, new: Mapping[Label, np.ndarray]) -> None:
        for label, shots in new.items():
            ids = self._new_ids(len(shots))
            for start in range(0, len(shots), CHUNK_ROWS):
                part = slice(start, start + CHUNK_ROWS)
                index.add(self.space(shots[part]), ids[part])
            self._label_by_id.append(ids, label)
            self._append(label, shots, ids)

    def _append(self, label: Label, shots: np.ndarray, ids: np.ndarray) -> None:
        """Record ``shots`` (and their store ``ids``) as the newest block of ``label``."""
        self._shots.setdefault(label, []).append(shots)
        self._ids.setdefault(label, []).append(ids)
        self._counts[label] = self._counts.get(label, 0) + len(shots)

    def _ensure_index(self, dim: int) -> VectorStore:
        if self._index is None:
            self.dim = dim
            self._index = make_store(self.store, dim, self.space.metric, **self.store_options)
        return self._index

    def _new_ids(self, count: int) -> np.ndarray:
        ids = np.arange(self._next_id, self._next_id + count, dtype=np.int64)
        self._next_id += count
        return ids

    def remove(self, label: Label) -> None:
        """Forget ``label``, its shots and texts (UnknownLabelError if it is not registered)."""
        self._blocks(label)
        ids = _joined(self._ids.pop(label))
        del self._shots[label], self._counts[label]
        self._sums.pop(label, None)
        self._examples.pop(label, None)
        if self._index is not None:
            self._index.remove(ids)
        self._label_by_id.remove(ids)
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
        return scores, self._label_by_id.lookup(ids)

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
            self.dim,
            self._next_id,
            {label: _joined(blocks) for label, blocks in self._shots.items()},
            {label: _joined(blocks) for label, blocks in self._ids.items()},
            examples,
            self._index,
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
        all_ids = [state.ids[label] for label in state.shots]
        labels = np.empty(sum(len(ids) for ids in all_ids), dtype=object)
        start = 0
        for label, ids in zip(state.shots, all_ids):
            labels[start : start + len(ids)] = label
            start += len(ids)
        flat_ids = np.concatenate(all_ids) if all_ids else np.zeros(0, np.int64)
        catalog._label_by_id = IdLabels.from_pairs(flat_ids, labels)
        for label, shots in state.shots.items():
            catalog._append(label, shots, state.ids[label])
            if mode == "prototype":
                catalog._sums[label] = space.sum(shots)
            if state.examples is not None:
                catalog._examples[label] = list(state.examples[label])
        listed = np.sort(np.concatenate(list(state.ids.values()))) if state.ids else np.zeros(0)
        stored = np.sort(state.index.ids()) if state.index is not None else np.zeros(0)
        if not np.array_equal(stored, listed):
            raise StoreFormatError("the saved index does not hold the ids the manifest lists")
        return catalog
