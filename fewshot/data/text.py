"""Labelled text as plain parallel sequences, and seeded K-shot draws from it.

Kept free of any dataset's quirks so that every text loader returns the same small, immutable
structure, and one function draws reproducible K-shot supports from any of them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fewshot.data.sources import DatasetError
from fewshot.errors import InputError


@dataclass(frozen=True)
class TextSplit:
    """Texts with one string label each, in file order; ``texts[i]`` is labelled ``labels[i]``.

    Example:
        >>> split = TextSplit(("hi", "bye"), ("greet", "leave"))
        >>> split.by_label()
        {'greet': ['hi'], 'leave': ['bye']}
    """

    texts: tuple[str, ...]
    labels: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "texts", tuple(self.texts))
        object.__setattr__(self, "labels", tuple(self.labels))
        if len(self.texts) != len(self.labels):
            raise InputError(
                f"texts and labels differ in length ({len(self.texts)} vs {len(self.labels)}); "
                "pass one label per text."
            )

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def label_set(self) -> tuple[str, ...]:
        """The distinct labels, sorted."""
        return tuple(sorted(set(self.labels)))

    def counts(self) -> dict[str, int]:
        """Examples per label, keyed in sorted label order."""
        out: dict[str, int] = dict.fromkeys(self.label_set, 0)
        for label in self.labels:
            out[label] += 1
        return out

    def by_label(self) -> dict[str, list[str]]:
        """Texts grouped per label (sorted labels, file order within each): the shape that
        ``FewShotClassifier.register_many`` takes."""
        out: dict[str, list[str]] = {label: [] for label in self.label_set}
        for text, label in zip(self.texts, self.labels, strict=True):
            out[label].append(text)
        return out


def draw_k_shot(split: TextSplit, k: int, seed: int) -> TextSplit:
    """Draw ``k`` examples per label without replacement, reproducibly from ``seed``.

    Labels are visited in sorted order with one ``numpy.random.default_rng(seed)``, so the same
    split, ``k`` and seed always give the same draw. The result lists labels in sorted order and,
    within a label, the drawn examples in file order.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise InputError(f"k={k!r} must be a positive integer (examples per label).")
    groups: dict[str, list[int]] = {label: [] for label in split.label_set}
    for index, label in enumerate(split.labels):
        groups[label].append(index)
    short = {label: len(idx) for label, idx in groups.items() if len(idx) < k}
    if short:
        worst = min(short.values())
        raise InputError(
            f"k={k} exceeds the examples of {len(short)} label(s) (fewest: {worst}, e.g. "
            f"{next(iter(short))!r}); pass k <= {worst}."
        )
    rng = np.random.default_rng(seed)
    chosen: list[int] = []
    for indices in groups.values():
        chosen.extend(sorted(rng.choice(indices, size=k, replace=False).tolist()))
    return TextSplit(tuple(split.texts[i] for i in chosen), tuple(split.labels[i] for i in chosen))


def read_parallel_lines(text_file: Path, label_file: Path) -> TextSplit:
    """Read a ``seq.in`` / ``label`` pair (one utterance and its label per line, UTF-8)."""
    texts = _read_lines(text_file)
    labels = _read_lines(label_file)
    if len(texts) != len(labels):
        raise DatasetError(
            f"{text_file} has {len(texts)} lines but {label_file} has {len(labels)}; the two "
            "files must correspond line by line. Restore both from the same source."
        )
    return TextSplit(tuple(texts), tuple(labels))


def _read_lines(path: Path) -> list[str]:
    try:
        raw = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise DatasetError(
            f"{path} is not UTF-8 text ({err}); restore it from the source."
        ) from err
    lines = raw.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if any(line.strip() == "" for line in lines):
        raise DatasetError(f"{path} has blank lines; each line must hold one entry.")
    return lines


def check_counts(
    split: TextSplit,
    where: str,
    *,
    total: int,
    labels: Sequence[str] | None = None,
    per_label: int | None = None,
    min_per_label: int | None = None,
) -> None:
    """Raise DatasetError naming ``where`` unless ``split`` has the expected size and labels."""
    problems: list[str] = []
    if len(split) != total:
        problems.append(f"{len(split)} examples, expected {total}")
    if labels is not None and set(split.labels) != set(labels):
        extra = sorted(set(split.labels) - set(labels))[:3]
        lacking = sorted(set(labels) - set(split.labels))[:3]
        problems.append(f"label set differs (unexpected {extra}, missing {lacking})")
    counts: Mapping[str, int] = split.counts()
    if per_label is not None and any(n != per_label for n in counts.values()):
        problems.append(f"per-label counts {sorted(set(counts.values()))}, expected {per_label}")
    if min_per_label is not None and counts and min(counts.values()) < min_per_label:
        problems.append(f"a label has {min(counts.values())} examples, expected >= {min_per_label}")
    if problems:
        raise DatasetError(
            f"{where}: {'; '.join(problems)}. The file is corrupt or not the expected dataset; "
            "restore it from the source named in the dataset's SOURCES.md."
        )
