"""Rows of labelled text from a CSV or JSON file, with the columns a caller needs checked.

Both ``load_text_rows`` (datasets) and ``LabelledData.from_csv`` / ``from_json`` read through
these two functions, so a missing column or a malformed file gives one error everywhere.
Each row comes back as ``(where, {column: value})``, ``where`` naming its line or position.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from fewshot.data.sources import DatasetError


def read_csv_rows(file: Path, needed: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """The rows of a UTF-8 CSV with a header that names every column in ``needed``."""
    try:
        with open(file, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = list(reader.fieldnames or [])
            _require_columns(file, header, needed)
            return [(f"line {i}", row) for i, row in enumerate(reader, start=2)]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"{file} is not a readable UTF-8 CSV ({exc}); save it as UTF-8") from exc


def read_json_rows(
    file: Path, text: str, label: str, group: str | None, section: str | None
) -> list[tuple[str, dict[str, Any]]]:
    """The rows of a JSON list of objects or ``[text, label]`` pairs (``section`` picks the
    list out of an object of lists)."""
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{file} is not valid UTF-8 JSON ({exc})") from exc
    if isinstance(data, dict):
        if section is None or section not in data:
            raise DatasetError(
                f"{file} holds an object of lists {sorted(data)[:8]}; choose one with "
                f"section= (--split on the command line){'' if section is None else f', not {section!r}'}"
            )
        data = data[section]
    if not isinstance(data, list) or not data:
        raise DatasetError(f"{file}: expected a non-empty list of rows")
    if all(isinstance(r, list) and len(r) == 2 for r in data):
        return [(f"row {i}", {text: r[0], label: r[1]}) for i, r in enumerate(data)]
    if not all(isinstance(r, dict) for r in data):
        raise DatasetError(
            f"{file}: rows must all be objects ({{{text!r}: ..., {label!r}: ...}}) or all "
            "[text, label] pairs"
        )
    _require_columns(file, sorted(data[0]), [c for c in (text, label, group) if c])
    return [(f"row {i}", r) for i, r in enumerate(data)]


def _require_columns(file: Path, header: list[str], needed: list[str]) -> None:
    flags = {0: "--text-column", 1: "--label-column", 2: "--group-column"}
    for position, column in enumerate(needed):
        if column not in header:
            raise DatasetError(
                f"{file} has no column {column!r} (columns: {header}); name the right one with "
                f"{flags.get(position, 'a flag')} (or the matching keyword of load_dataset)"
            )
