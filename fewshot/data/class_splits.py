"""Class splits for few-shot work: base classes to train on, validation classes to select the
checkpoint, novel classes to evaluate on; disjoint by construction, so evaluation classes are
never trained on.

``ClassSplits.from_file`` reads a JSON object (``{"base": [...], "val": [...], "novel":
[...]}``) or a text file with ``[base]`` / ``[val]`` / ``[novel]`` headers, one class per line;
``ClassSplits.from_fractions`` draws a seeded split (optionally keeping whole groups together,
e.g. Omniglot alphabets or CLINC150 domains). ``splits.subset(dataset, "novel")`` is the part
a run may use. ``train`` / ``validation`` / ``test`` are accepted for the three names.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fewshot.data.dataset import DatasetSubset, FewShotDataset
from fewshot.data.sources import DatasetError, DatasetNotFoundError

SPLIT_NAMES = ("base", "val", "novel")
ALIASES = {"base": "base", "train": "base", "val": "val", "validation": "val",
           "novel": "novel", "test": "novel"}  # fmt: skip


def split_name(name: str) -> str:
    """``"train"`` → ``"base"``, ``"test"`` → ``"novel"``...; unknown names raise."""
    if name not in ALIASES:
        raise DatasetError(
            f"unknown class split {name!r}; use base, val or novel (or train, validation, test)"
        )
    return ALIASES[name]


def require_disjoint(first: Iterable[str], second: Iterable[str], what: str) -> None:
    """Raise ``DatasetError`` if ``first`` and ``second`` share a class; ``what`` names the two
    sides in the message, e.g. ``"base and novel"``."""
    shared = sorted(set(first) & set(second))
    if shared:
        raise DatasetError(
            f"{what} classes overlap in {len(shared)} class(es), e.g. {shared[:5]}; a class "
            "evaluated on must never be trained on: remove them from one side"
        )


@dataclass(frozen=True)
class ClassSplits:
    """Three disjoint lists of class names; ``origin`` records how they were made.

    Example:
        >>> splits = ClassSplits.from_fractions(ds.class_names, (0.6, 0.2, 0.2), seed=0)
        >>> novel = splits.subset(ds, "novel")      # a FewShotDataset of the novel classes
        >>> splits.save("splits.json")
    """

    base: tuple[str, ...]
    val: tuple[str, ...] = ()
    novel: tuple[str, ...] = ()
    origin: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        for name in SPLIT_NAMES:
            values = tuple(str(v) for v in getattr(self, name))
            repeated = sorted({v for v in values if values.count(v) > 1})
            if repeated:
                raise DatasetError(f"class split {name!r} lists {repeated[:5]} more than once")
            object.__setattr__(self, name, values)
        require_disjoint(self.base, self.novel, "base and novel")
        require_disjoint(self.base, self.val, "base and val")
        require_disjoint(self.val, self.novel, "val and novel")

    def names(self, split: str) -> tuple[str, ...]:
        """The classes of ``split`` (base, val, novel or an alias)."""
        return tuple(getattr(self, split_name(split)))

    def subset(self, dataset: FewShotDataset, split: str) -> DatasetSubset:
        """The part of ``dataset`` holding ``split``'s classes; every class must exist."""
        chosen = self.names(split)
        if not chosen:
            raise DatasetError(
                f"the class split {split_name(split)!r} is empty; list its classes in the "
                "classes file or give it a non-zero fraction"
            )
        return dataset.subset(chosen)

    def check(self, dataset: FewShotDataset) -> None:
        """Raise ``DatasetError`` naming classes of the splits that ``dataset`` lacks."""
        known = set(dataset.class_names)
        missing = [c for name in SPLIT_NAMES for c in getattr(self, name) if c not in known]
        if missing:
            raise DatasetError(
                f"{len(missing)} class(es) of the class splits are not in the dataset, e.g. "
                f"{missing[:5]}; fix the classes file or load the dataset it was written for"
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``from_file`` reads it back)."""
        return {**{n: list(getattr(self, n)) for n in SPLIT_NAMES}, "origin": self.origin}

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the splits as JSON."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=1), encoding="utf-8")

    def describe(self) -> dict[str, Any]:
        """Class counts per split and the origin, for reports."""
        return {**{n: len(getattr(self, n)) for n in SPLIT_NAMES}, **self.origin}

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> ClassSplits:
        """Read a JSON object of lists, or a text file with ``[base]``/``[val]``/``[novel]``
        headers and one class name per line (``#`` starts a comment line)."""
        file = Path(path).expanduser()
        if not file.is_file():
            raise DatasetNotFoundError(f"classes file {file} does not exist")
        text = file.read_text(encoding="utf-8")
        parts = (
            _parse_json(file, text) if file.suffix.lower() == ".json" else _parse_text(file, text)
        )
        return cls(
            base=tuple(parts.get("base", ())),
            val=tuple(parts.get("val", ())),
            novel=tuple(parts.get("novel", ())),
            origin={"classes_file": file.name},
        )

    @classmethod
    def from_fractions(
        cls,
        class_names: Sequence[str],
        fractions: Sequence[float] = (0.6, 0.2, 0.2),
        seed: int = 0,
        groups: Sequence[str] | None = None,
    ) -> ClassSplits:
        """A seeded split of ``class_names`` by ``(base, val, novel)`` fractions (two values
        mean ``(base, novel)``). With ``groups`` (one per class), whole groups go to one side,
        filled novel first, then val, until each reaches its share of classes."""
        fr = [float(f) for f in fractions]
        if len(fr) == 2:
            fr = [fr[0], 0.0, fr[1]]
        if len(fr) != 3 or min(fr) < 0 or abs(sum(fr) - 1.0) > 1e-6 or fr[0] == 0:
            raise DatasetError(
                f"split fractions must be (base, val, novel) or (base, novel), each >= 0, base "
                f"> 0, summing to 1; got {list(fractions)}"
            )
        names = list(dict.fromkeys(str(n) for n in class_names))
        units = sorted(set(groups)) if groups is not None else names
        members = {u: [u] for u in units}
        if groups is not None:
            if len(groups) != len(class_names):
                raise DatasetError("from_fractions: give one group per class name")
            members = {u: [] for u in units}
            for name, group in zip(class_names, groups):
                members[str(group)].append(str(name))
        order = [units[i] for i in np.random.default_rng(seed).permutation(len(units))]
        targets = {"novel": round(fr[2] * len(names)), "val": round(fr[1] * len(names))}
        chosen: dict[str, list[str]] = {"novel": [], "val": [], "base": []}
        for unit in order:
            side = next((s for s in ("novel", "val") if len(chosen[s]) < targets[s]), "base")
            chosen[side].extend(members[unit])
        for side, share in (("novel", fr[2]), ("val", fr[1]), ("base", fr[0])):
            if share > 0 and not chosen[side]:
                raise DatasetError(
                    f"{len(names)} classes are too few for a {share:g} {side} fraction; give "
                    "a larger fraction or more classes"
                )
        origin = {"fractions": fr, "seed": int(seed), "by_group": groups is not None}
        return cls(
            tuple(sorted(chosen["base"])), tuple(sorted(chosen["val"])),
            tuple(sorted(chosen["novel"])), origin=origin,
        )  # fmt: skip


def _parse_json(file: Path, text: str) -> dict[str, list[str]]:
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DatasetError(f"classes file {file} is not valid JSON ({exc})") from exc
    if not isinstance(raw, dict):
        raise DatasetError(f"classes file {file} must hold an object: {{'base': [...], ...}}")
    parts: dict[str, list[str]] = {}
    for key, value in raw.items():
        if key == "origin":
            continue
        if not isinstance(value, list):
            raise DatasetError(f"classes file {file}: {key!r} must be a list of class names")
        parts.setdefault(split_name(key), []).extend(str(v) for v in value)
    if not parts.get("base") and not parts.get("novel"):
        raise DatasetError(f"classes file {file} lists no base and no novel classes")
    return parts


def _parse_text(file: Path, text: str) -> dict[str, list[str]]:
    parts: dict[str, list[str]] = {}
    current: str | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = split_name(line[1:-1].strip())
            parts.setdefault(current, [])
        elif current is None:
            raise DatasetError(
                f"classes file {file} line {number}: put a [base], [val] or [novel] header "
                "before the class names"
            )
        else:
            parts[current].append(line)
    if not parts:
        raise DatasetError(f"classes file {file} has no [base], [val] or [novel] section")
    return parts
