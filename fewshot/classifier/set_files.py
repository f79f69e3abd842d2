"""Label sets besides the default one inside a snapshot folder.

Set ``i`` (in the order the manifest's ``label_sets`` lists them) is a nested snapshot in
``sets/<i>/``: its own manifest, shots, index and texts, written and read by the same code as
the default set. The top manifest lists each nested manifest with its checksum, so every file
is covered. This module only places the folders; the caller writes and reads each one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from fewshot.classifier.catalog import CatalogState
from fewshot.classifier.label_sets import DEFAULT_SET, check_label_set
from fewshot.durable import read_json, verify_checksums
from fewshot.errors import InputError, StoreFormatError

SETS_DIR = "sets"


def set_folder(folder: Path, position: int) -> Path:
    """Where the label set at ``position`` of the manifest's list lives."""
    return folder / SETS_DIR / str(position)


def write_sets(
    folder: Path,
    states: Mapping[str, CatalogState],
    write: Callable[[Path, CatalogState], None],
    manifest_name: str,
) -> tuple[list[str], list[dict[str, Any]]]:
    """Write each set with ``write(subfolder, state)``; returns the files to checksum (each
    set's manifest, relative to ``folder``) and the top manifest's entries."""
    files, entries = [], []
    for position, (name, state) in enumerate(states.items()):
        sub = set_folder(folder, position)
        sub.mkdir(parents=True)
        write(sub, state)
        files.append(f"{SETS_DIR}/{position}/{manifest_name}")
        entries.append({"name": name})
    return files, entries


def read_sets(
    folder: Path,
    entries: Any,
    read: Callable[[Path, dict[str, Any]], CatalogState],
    manifest_name: str,
) -> dict[str, CatalogState]:
    """The states of the sets a manifest lists: each nested manifest is checked (format,
    checksums), then ``read(subfolder, manifest)`` reads the classes."""
    if entries is None:
        return {}
    if not isinstance(entries, list):
        raise StoreFormatError(f"{folder}: label_sets must be a list, got {type(entries).__name__}")
    states: dict[str, CatalogState] = {}
    for position, entry in enumerate(entries):
        try:
            name = check_label_set(entry.get("name") if isinstance(entry, dict) else None)
        except InputError as exc:
            raise StoreFormatError(f"{folder}: label set {position}: {exc}") from None
        if name == DEFAULT_SET or name in states:
            raise StoreFormatError(f"{folder}: label set {name!r} is listed twice")
        states[name] = read_set(set_folder(folder, position), read, manifest_name)
    return states


def read_set(
    folder: Path, read: Callable[[Path, dict[str, Any]], CatalogState], manifest_name: str
) -> CatalogState:
    """One nested set: its manifest, verified like the top one, then its classes."""
    manifest = read_json(folder / manifest_name, "saved label set")
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise StoreFormatError(f"{folder / manifest_name} is not a fewshot label-set manifest")
    verify_checksums(folder, manifest["files"], "saved label set")
    try:
        return read(folder, manifest)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        if isinstance(exc, (InputError, StoreFormatError)):
            raise
        raise StoreFormatError(f"{folder / manifest_name} is malformed: {exc!r}") from exc
