"""One dataset type for few-shot work: items, integer labels, class names, optional class
groups and per-item sources, and ``inputs(indices)``: what an encoder embeds.

Every loader returns one (``fewshot.data.load_dataset``: image folders, CSV/JSON text rows,
Omniglot, CLINC150, BANKING77), so samplers, class splits and evaluation never ask which
dataset they hold. Samplers need ``labels`` and ``class_names``; within-group tasks need
``class_groups`` (Omniglot alphabets, CLINC150 domains); Lake's drawer-pair runs need
``sources`` (who drew each image). ``subset(classes)`` keeps some classes (one side of a
few-shot class split) as a view that shares the parent's items and decode cache.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from typing import Any

import numpy as np

from fewshot.data.labelled import LabelledData
from fewshot.data.sources import DatasetError

KINDS = ("image", "text", "items")


class FewShotDataset(LabelledData):
    """Items with class numbers ``0..C-1``, class names, and optional groups and sources.

    Arguments:
        items: N items (file paths, strings, feature rows...), indexable.
        labels: class number of each item, ints in ``0..C-1`` (N,).
        classes: the C class values in label order; ``class_names`` are their strings.
        class_groups: a group per class (C,), e.g. the alphabet of an Omniglot character or
            the domain of a CLINC150 intent; enables within-group episodes.
        sources: an int per item (N,) naming who or what produced it, e.g. the Omniglot drawer;
            enables Lake's drawer-pair runs.
        kind: ``"image"`` (``inputs`` gives uint8 arrays or paths), ``"text"`` (strings) or
            ``"items"`` (anything else); checked against the encoder before embedding.
        info: JSON-ready description merged into ``describe()`` (name, split, path...).

    Example:
        >>> ds = FewShotDataset(["hi", "yo", "bye"], [0, 0, 1], ["greet", "leave"], kind="text")
        >>> ds.inputs([2, 0]), ds.subset(["leave"]).class_names
        (['bye', 'hi'], ['leave'])
    """

    def __init__(
        self,
        items: Sequence[Any],
        labels: Sequence[int] | np.ndarray,
        classes: Sequence[Hashable],
        *,
        class_groups: Sequence[str] | None = None,
        sources: Sequence[int] | np.ndarray | None = None,
        kind: str = "items",
        info: dict[str, Any] | None = None,
    ) -> None:
        codes = np.asarray(labels, dtype=np.int64)
        if codes.ndim != 1 or len(items) != codes.size or codes.size == 0:
            raise DatasetError(
                f"FewShotDataset: need one label per item and at least one item, got "
                f"{len(items)} items and labels of shape {codes.shape}"
            )
        if codes.min() < 0 or codes.max() >= len(classes):
            raise DatasetError(
                f"FewShotDataset: labels must be class numbers in 0..{len(classes) - 1} "
                f"(one per entry of `classes`), got {int(codes.min())}..{int(codes.max())}"
            )
        if class_groups is not None and len(class_groups) != len(classes):
            raise DatasetError(
                f"FewShotDataset: `class_groups` has {len(class_groups)} entries for "
                f"{len(classes)} classes; give one group per class"
            )
        if sources is not None and len(sources) != codes.size:
            raise DatasetError(
                f"FewShotDataset: `sources` has {len(sources)} entries for {codes.size} items; "
                "give one source per item"
            )
        if kind not in KINDS:
            raise DatasetError(f"FewShotDataset: `kind` must be one of {KINDS}, got {kind!r}")
        self.items = items
        self.labels = codes
        self.classes = list(classes)
        self._class_groups = None if class_groups is None else [str(g) for g in class_groups]
        self.sources = None if sources is None else np.asarray(sources, dtype=np.int64)
        self.kind = kind
        self.info = dict(info or {})

    @classmethod
    def from_labelled(
        cls, data: LabelledData, kind: str = "items", **options: Any
    ) -> FewShotDataset:
        """Wrap a ``LabelledData`` (its classes and numbering kept); ``options`` as above."""
        return cls(data.items, data.labels, data.classes, kind=kind, **options)

    @property
    def class_groups(self) -> list[str] | None:
        """The group of each class in label order, or None when the data has no groups."""
        return self._class_groups

    def inputs(self, indices: Sequence[int] | np.ndarray) -> list[Any]:
        """What an encoder embeds for items ``indices``: here the items themselves."""
        return [self.items[int(i)] for i in np.asarray(indices, dtype=np.int64)]

    def subset(self, classes: Iterable[str]) -> DatasetSubset:
        """Only the items of ``classes`` (names), renumbered ``0..C'-1`` in this dataset's
        class order; a view sharing items and caches. Unknown names raise ``DatasetError``."""
        return DatasetSubset(self, classes)

    def describe(self) -> dict[str, Any]:
        """JSON-ready description for manifests and reports."""
        return {
            **self.info,
            "kind": self.kind,
            "classes": len(self.classes),
            "examples": len(self),
        }


class DatasetSubset(FewShotDataset):
    """Some classes of ``parent``: ``positions`` (n,) are the parent indices of its items.

    ``inputs`` asks the parent (so its decode cache serves both), and ``root``/``root_indices``
    reach the dataset that holds the data, for code that works on the whole (e.g. images
    resident on a device)."""

    def __init__(self, parent: FewShotDataset, classes: Iterable[str]) -> None:
        wanted = list(dict.fromkeys(classes))
        names = parent.class_names
        number = {name: i for i, name in enumerate(names)}
        unknown = [c for c in wanted if c not in number]
        if unknown:
            raise DatasetError(
                f"classes {unknown[:5]}{' ...' if len(unknown) > 5 else ''} are not in the "
                f"dataset ({len(names)} classes, e.g. {names[:3]}); check the spelling in the "
                "class list against dataset.class_names"
            )
        if not wanted:
            raise DatasetError("subset: no classes were given; name at least one class")
        keep = np.sort(np.array([number[c] for c in wanted], dtype=np.int64))
        new_label = np.full(len(names), -1, dtype=np.int64)
        new_label[keep] = np.arange(keep.size)
        positions = np.flatnonzero(new_label[parent.labels] >= 0)
        groups = parent.class_groups
        super().__init__(
            _Positions(parent.items, positions),
            new_label[parent.labels[positions]],
            [parent.classes[c] for c in keep],
            class_groups=None if groups is None else [groups[c] for c in keep],
            sources=None if parent.sources is None else parent.sources[positions],
            kind=parent.kind,
            info={**parent.info, "subset_of": len(names)},
        )
        self.parent = parent
        self.positions = positions
        self._names = [names[c] for c in keep]

    @property
    def class_names(self) -> list[str]:
        return list(self._names)

    @property
    def root(self) -> FewShotDataset:
        """The dataset that holds the items (a subset of a subset reaches the first one)."""
        return self.parent.root if isinstance(self.parent, DatasetSubset) else self.parent

    def root_indices(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """Indices into ``root`` of this subset's items ``indices``."""
        idx = self.positions[np.asarray(indices, dtype=np.int64)]
        return self.parent.root_indices(idx) if isinstance(self.parent, DatasetSubset) else idx

    def inputs(self, indices: Sequence[int] | np.ndarray) -> list[Any]:
        return self.parent.inputs(self.positions[np.asarray(indices, dtype=np.int64)])

    def describe(self) -> dict[str, Any]:
        parent = self.parent.describe()
        return {**parent, "classes": len(self.classes), "examples": len(self),
                "subset_of": parent.get("classes")}  # fmt: skip


class _Positions(Sequence[Any]):
    """A lazy view ``items[positions[i]]`` (no copy of the parent's items)."""

    def __init__(self, items: Sequence[Any], positions: np.ndarray) -> None:
        self._items, self._positions = items, positions

    def __len__(self) -> int:
        return int(self._positions.size)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self._items[int(p)] for p in self._positions[i]]
        return self._items[int(self._positions[i])]
