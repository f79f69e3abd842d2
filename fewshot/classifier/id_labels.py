"""Store id → label for the ids that are live, in memory that grows with them, not with the
largest id ever issued (a saved ``next_id`` of 10¹² must not allocate anything)."""

from __future__ import annotations

import numpy as np

from fewshot.classifier.inputs import Label


class IdLabels:
    """Sorted live ids with their labels; appends must use ids above every id seen so far.

    Removed ids leave a tombstone that lookups treat as missing; tombstones are compacted away
    once they make up half the entries, so both memory and ``lookup`` stay O(live ids).
    """

    def __init__(self) -> None:
        self._ids = np.zeros(64, dtype=np.int64)
        self._labels = np.full(64, None, dtype=object)
        self._size = 0
        self._dead = 0

    @classmethod
    def from_pairs(cls, ids: np.ndarray, labels: np.ndarray) -> IdLabels:
        """From parallel arrays of unique ids (any order) and their labels (object array)."""
        mapping = cls()
        order = np.argsort(ids, kind="stable")
        mapping._size = len(ids)
        mapping._ids = np.asarray(ids, dtype=np.int64)[order]
        mapping._labels = np.asarray(labels, dtype=object)[order]
        return mapping

    def append(self, ids: np.ndarray, label: Label) -> None:
        """Map ``ids`` (increasing, above every id held) to ``label``."""
        if not len(ids):
            return
        if self._size and ids[0] <= self._ids[self._size - 1]:
            raise ValueError("IdLabels.append needs ids above every id held")
        end = self._size + len(ids)
        if end > len(self._ids):
            capacity = max(end, 2 * len(self._ids))
            self._ids = np.concatenate(
                [self._ids[: self._size], np.zeros(capacity - self._size, np.int64)]
            )
            grown = np.full(capacity, None, dtype=object)
            grown[: self._size] = self._labels[: self._size]
            self._labels = grown
        self._ids[self._size : end] = ids
        self._labels[self._size : end] = label
        self._size = end

    def remove(self, ids: np.ndarray) -> None:
        """Forget ``ids`` (ids not held are ignored)."""
        wanted = np.asarray(ids, dtype=np.int64).ravel()
        held = self._ids[: self._size]
        positions = np.searchsorted(held, wanted)
        inside = positions < self._size
        positions = positions[inside][held[positions[inside]] == wanted[inside]]
        alive = sum(label is not None for label in self._labels[positions])
        self._labels[positions] = None
        self._dead += alive
        if self._dead * 2 > self._size:
            self._compact()

    def _compact(self) -> None:
        alive = np.array([label is not None for label in self._labels[: self._size]], dtype=bool)
        ids, labels = self._ids[: self._size][alive], self._labels[: self._size][alive]
        self._size, self._dead = len(ids), 0
        self._ids[: self._size], self._labels[: self._size] = ids, labels
        self._labels[self._size :] = None

    def lookup(self, ids: np.ndarray) -> np.ndarray:
        """Labels (object array shaped like ``ids``), ``None`` for −1 and ids not held."""
        flat = np.asarray(ids, dtype=np.int64).ravel()
        held = self._ids[: self._size]
        positions = np.minimum(np.searchsorted(held, flat), max(self._size - 1, 0))
        out = np.full(flat.shape, None, dtype=object)
        if self._size:
            found = held[positions] == flat
            out[found] = self._labels[positions[found]]
        return out.reshape(np.shape(ids))
