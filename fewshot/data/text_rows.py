"""Text rows from a CSV or JSON file as a few-shot dataset (items are the strings).

CSV: a header row naming the columns (``text`` and ``label`` by default). JSON: a list of
objects with those keys, a list of ``[text, label]`` pairs, or an object of such lists (e.g.
CLINC150's ``data_full.json``) from which ``section`` picks one. An optional group column gives
each class a group (e.g. a domain) for within-group episodes.
"""

from __future__ import annotations

import os
from pathlib import Path

from fewshot.data.dataset import FewShotDataset
from fewshot.data.labelled import LabelledData
from fewshot.data.rows import read_csv_rows, read_json_rows
from fewshot.data.sources import DatasetError, DatasetNotFoundError

TEXT_SUFFIXES = (".csv", ".json")


def load_text_rows(
    path: str | os.PathLike[str],
    *,
    text_column: str = "text",
    label_column: str = "label",
    group_column: str | None = None,
    section: str | None = None,
) -> FewShotDataset:
    """Read labelled text rows; classes are the distinct labels in sorted order.

    Errors name the fix: a missing column (and the flag that renames it), an empty text or
    label (with its row), a JSON object without ``section``.
    """
    file = Path(path).expanduser()
    if not file.is_file():
        raise DatasetNotFoundError(f"{file} does not exist; pass a .csv or .json file of text rows")
    suffix = file.suffix.lower()
    if suffix == ".csv":
        rows = read_csv_rows(file, [c for c in (text_column, label_column, group_column) if c])
    elif suffix == ".json":
        rows = read_json_rows(file, text_column, label_column, group_column, section)
    else:
        raise DatasetError(f"{file}: text rows must be a .csv or .json file, not {suffix!r}")
    texts: list[str] = []
    labels: list[str] = []
    groups: dict[str, str] = {}
    for line, row in rows:
        text, label = row.get(text_column), row.get(label_column)
        for value, what in ((text, text_column), (label, label_column)):
            if not isinstance(value, (str, int)) or str(value).strip() == "":
                raise DatasetError(
                    f"{file} {line}: empty or missing {what!r}; fill it in or drop that row"
                )
        texts.append(str(text))
        labels.append(str(label))
        if group_column:
            group = str(row.get(group_column, ""))
            if groups.setdefault(str(label), group) != group:
                raise DatasetError(
                    f"{file} {line}: class {label!r} is in group {group!r} here but "
                    f"{groups[str(label)]!r} earlier; give each class one {group_column!r}"
                )
    if not texts:
        raise DatasetError(f"{file} holds no rows; add a header and one row per labelled text")
    data = LabelledData(texts, labels)
    return FewShotDataset.from_labelled(
        data, kind="text",
        class_groups=[groups[c] for c in data.class_names] if group_column else None,
        info={"dataset": "text-rows", "path": file.name, **({"section": section} if section else {})},
    )  # fmt: skip
