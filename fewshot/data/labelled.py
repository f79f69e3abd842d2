"""One adapter for any labelled data: items plus integer labels, no ``get_labels()`` needed.

Accepts (item, label) pairs, parallel item/label sequences, a torchvision ``ImageFolder``
(read from its ``samples``, without decoding images), and text rows from CSV or JSON files.
Samplers only need ``labels`` and ``class_names``; items are returned untouched.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Hashable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fewshot.data.rows import read_csv_rows, read_json_rows
from fewshot.errors import InputError


class LabelledData:
    """Items with integer labels ``0..C-1`` and the original label value of each class.

    Arguments:
        items: any sequence (paths, PIL images, strings, feature rows...).
        labels: one hashable label per item; classes are numbered in sorted order of the
            labels (insertion order if they do not sort).

    Attributes: ``items``, ``labels`` (int64, N), ``class_names`` (original label values as
    strings), ``classes`` (the original values).

    Example:
        >>> data = LabelledData.from_pairs([("hi", "greet"), ("bye", "leave")])
        >>> data.labels.tolist(), data.class_names
        ([0, 1], ['greet', 'leave'])
    """

    def __init__(self, items: Sequence[Any], labels: Sequence[Hashable]) -> None:
        labels = list(labels)
        if len(items) != len(labels):
            raise ValueError(
                f"LabelledData: `items` has {len(items)} entries but `labels` has {len(labels)}; "
                "give exactly one label per item"
            )
        if not labels:
            raise ValueError(
                "LabelledData: no examples were given; pass at least one (item, label)"
            )
        try:
            hash(tuple(labels))
        except TypeError as e:
            raise ValueError(
                f"LabelledData: every label must be hashable (str, int...): {e}"
            ) from e
        unique = list(dict.fromkeys(labels))
        with contextlib.suppress(TypeError):  # mixed types keep first-seen order
            unique = sorted(unique)  # type: ignore[type-var]
        code = {lab: i for i, lab in enumerate(unique)}
        self.items = items
        self.classes: Sequence[Hashable] = unique
        self.labels = np.fromiter((code[lab] for lab in labels), dtype=np.int64, count=len(labels))

    @property
    def class_names(self) -> list[str]:
        """Class labels as strings, in integer-label order."""
        return [str(c) for c in self.classes]

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[Any, int]:
        return self.items[i], int(self.labels[i])

    def counts(self) -> dict[str, int]:
        """Examples per class, by class name."""
        return dict(zip(self.class_names, np.bincount(self.labels).tolist(), strict=True))

    def require_examples(self, needed: int, what: str = "k_shot + q_query") -> None:
        """Raise if a class has fewer than ``needed`` examples, naming the class and numbers."""
        check_class_sizes(self.labels, self.class_names, needed, what)

    def describe(self) -> dict:
        """JSON-ready description for manifests and reports."""
        return {"dataset": "labelled", "classes": len(self.classes), "examples": len(self)}

    # ---- constructors -------------------------------------------------------------------
    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[Any, Hashable]]) -> LabelledData:
        """From an iterable of ``(item, label)`` pairs (a list, or a Dataset yielding pairs)."""
        pairs = list(pairs)
        bad = next(
            (i for i, p in enumerate(pairs) if not (isinstance(p, (tuple, list)) and len(p) == 2)),
            None,
        )
        if bad is not None:
            raise ValueError(
                f"LabelledData.from_pairs: element {bad} is {type(pairs[bad]).__name__}, "
                "not an (item, label) pair"
            )
        return cls([p[0] for p in pairs], [_plain(p[1]) for p in pairs])

    @classmethod
    def from_image_folder(cls, folder: Any) -> LabelledData:
        """From a torchvision ``ImageFolder`` (or ``DatasetFolder``): items are file paths."""
        samples = getattr(folder, "samples", None)
        names = getattr(folder, "classes", None)
        if samples is None or names is None:
            raise ValueError(
                "LabelledData.from_image_folder: expected a torchvision ImageFolder with "
                "`samples` and `classes`; use from_pairs for other datasets"
            )
        return cls([p for p, _ in samples], [names[t] for _, t in samples])

    @classmethod
    def from_csv(
        cls, path: str | os.PathLike, text_column: str = "text", label_column: str = "label"
    ) -> LabelledData:
        """From a CSV file with a header; items are the ``text_column`` strings."""
        rows = read_csv_rows(Path(path), [text_column, label_column])
        return cls([r[text_column] for _, r in rows], [r[label_column] for _, r in rows])

    @classmethod
    def from_json(
        cls,
        path: str | os.PathLike,
        text_key: str = "text",
        label_key: str = "label",
        section: str | None = None,
    ) -> LabelledData:
        """From JSON: a list of objects, or of ``[text, label]`` pairs (CLINC150 style).

        ``section`` picks one list out of a top-level object (e.g. ``"train"``).
        """
        rows = read_json_rows(Path(path), text_key, label_key, None, section)
        return cls([r[text_key] for _, r in rows], [_plain(r[label_key]) for _, r in rows])

    @classmethod
    def from_any(cls, data: Any, labels: Sequence[Hashable] | None = None) -> LabelledData:
        """Dispatch: ``(items, labels)``, an ImageFolder, a CSV/JSON path, or pairs."""
        if isinstance(data, LabelledData):
            return data
        if labels is not None:
            return cls(data, [_plain(v) for v in labels])
        if hasattr(data, "samples") and hasattr(data, "classes"):
            return cls.from_image_folder(data)
        if isinstance(data, (str, os.PathLike)):
            suffix = Path(data).suffix.lower()
            if suffix == ".csv":
                return cls.from_csv(data)
            if suffix == ".json":
                return cls.from_json(data)
            raise ValueError(
                f"LabelledData.from_any: cannot read {data!r}; give a .csv or .json file"
            )
        return cls.from_pairs(data)


def check_class_sizes(
    labels: np.ndarray, class_names: Sequence[str], needed: int, what: str = "k_shot + q_query"
) -> None:
    """Raise ``InputError`` (a ``ValueError``) naming every class with fewer than ``needed``
    examples."""
    counts = np.bincount(np.asarray(labels), minlength=len(class_names))
    short = np.flatnonzero(counts < needed)
    if short.size:
        shown = ", ".join(f"class {class_names[i]!r} has {counts[i]}" for i in short[:5])
        more = f" (and {short.size - 5} more classes)" if short.size > 5 else ""
        raise InputError(
            f"{what} = {needed} examples are needed per class, but {shown}{more}; "
            "lower the shots or queries, or drop those classes"
        )


def _plain(value: Any) -> Hashable:
    """Tensor / numpy scalars → Python scalars, so labels hash and print plainly."""
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "ndim", 0) == 0:
        return item()
    return value
