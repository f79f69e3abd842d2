"""The saved classifier's manifest, checked field by field before anything acts on it.

A manifest is untrusted input: a store may be corrupt, foreign or hostile. ``check_manifest``
validates types, ranges and cross-field consistency (ids against ``next_id``, shot counts, the
head's size against ``dim``), that every path it names stays inside the snapshot, and that every
file the load will read has a checksum; each failure is a ``StoreFormatError`` naming the field.
Sizes claimed by the files themselves are checked against the files before any allocation
(``check_tensor_file`` here, ``fewshot.stores.faiss_files.check_index_file`` for indexes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safetensors import SafetensorError, safe_open

from fewshot.classifier.inputs import MODES, Label, check_label
from fewshot.durable import contained, json_bytes
from fewshot.errors import InputError, StoreFormatError
from fewshot.metrics import METRIC_NAMES

FORMAT = "fewshot.classifier"
VERSION = 3  # 2: raw text examples and a projection head; 3: label sets besides the default
# (sets/<i>/, each a nested snapshot) and a database's store_address (written only when used)
MAX_DIM = 1 << 16
MAX_ID = 1 << 62
ENCODER_FILES = ("encoder/encoder.json", "encoder/model.safetensors")


@dataclass(frozen=True)
class ClassEntry:
    """One class of a manifest: its label, its shot count, its ids in the index."""

    label: Label
    shots: int
    ids: list[int]


def _fail(path: Path, field: str, problem: str) -> StoreFormatError:
    return StoreFormatError(f"{path}: field {field!r} {problem}")


def _int(value: Any, path: Path, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _fail(path, field, f"must be an integer in [{low}, {high}], got {str(value)[:40]!r}")
    return value


def check_manifest(manifest: Any, folder: Path, path: Path) -> dict[str, Any]:
    """The manifest, validated (see the module docstring); returns it unchanged."""
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise StoreFormatError(f"{path} is not a fewshot classifier manifest (foreign file)")
    version = manifest.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise _fail(path, "format_version", f"must be a positive integer, got {version!r}")
    if version > VERSION:
        raise StoreFormatError(
            f"{path} has format_version {version}; this fewshot reads up to {VERSION}: "
            "upgrade fewshot to load it"
        )
    _check_settings(manifest, path)
    dim = manifest.get("dim")
    if dim is not None:
        _int(dim, path, "dim", 1, MAX_DIM)
    next_id = _int(manifest.get("next_id"), path, "next_id", 0, MAX_ID)
    classes = check_classes(manifest.get("classes"), manifest["mode"], next_id, path)
    try:
        json_bytes(manifest)  # every other string must be text a save can write back too
    except InputError as exc:
        raise StoreFormatError(f"{path}: {exc}") from None
    if classes and dim is None:
        raise _fail(path, "dim", "is missing, but the manifest lists classes")
    files = manifest.get("files")
    if not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values()):
        raise _fail(path, "files", "must be an object of file name → sha256")
    needed = ["shots.safetensors", "index.faiss"] if classes else []
    for field in ("examples",):
        if manifest.get(field) is not None:
            needed.append(_name(manifest[field], folder, path, field))
    head = manifest.get("head")
    if head is not None:
        needed.append(_check_head(head, dim, folder, path))
    needed += _check_encoder(manifest.get("encoder"), folder, path)
    needed += _check_format_3(manifest, folder, path)
    unlisted = [name for name in needed if name not in files]
    if unlisted:
        raise _fail(path, "files", f"has no checksum for {unlisted[0]!r}, which the load reads")
    for name in files:
        contained(folder, name, f"{path}: field 'files'")
    return manifest


def _check_format_3(manifest: dict[str, Any], folder: Path, path: Path) -> list[str]:
    """``label_sets`` (nested snapshots in sets/<i>/) and ``store_address`` (an object): the
    files they make the load read."""
    address = manifest.get("store_address")
    if address is not None and not isinstance(address, dict):
        raise _fail(path, "store_address", "must be an object")
    entries = manifest.get("label_sets")
    if entries is None:
        return []
    if not isinstance(entries, list) or len(entries) > 1 << 16:
        raise _fail(path, "label_sets", "must be a list of {name}")
    nested = [f"sets/{position}/manifest.json" for position in range(len(entries))]
    for name in nested:
        contained(folder, name, f"{path}: field 'label_sets'")
    return nested


def _check_settings(manifest: dict[str, Any], path: Path) -> None:
    for field in (
        "metric",
        "mode",
        "threshold",
        "n_neighbors",
        "dim",
        "next_id",
        "classes",
        "files",
    ):
        if field not in manifest:
            raise _fail(path, field, "is missing")
    if manifest.get("metric") not in METRIC_NAMES:
        raise _fail(path, "metric", f"must be one of {METRIC_NAMES}")
    if manifest.get("mode") not in MODES:
        raise _fail(path, "mode", f"must be one of {MODES}")
    threshold = manifest.get("threshold")
    if threshold is not None and (
        isinstance(threshold, bool)
        or not isinstance(threshold, (int, float))
        or not math.isfinite(threshold)
    ):
        raise _fail(path, "threshold", "must be null or a finite number")
    _int(manifest.get("n_neighbors"), path, "n_neighbors", 1, 1 << 20)
    store = manifest.get("store", "flat")
    if not isinstance(store, str) or not store.isidentifier():
        raise _fail(path, "store", "must be a backend name")
    if not isinstance(manifest.get("store_options", {}) or {}, dict):
        raise _fail(path, "store_options", "must be an object")


def check_classes(raw: Any, mode: str, next_id: int, path: Path) -> list[ClassEntry]:
    """The ``classes`` list: unique labels (str or int), shot counts >= 1, unique ids below
    ``next_id`` (one per class in prototype mode, one per shot in knn mode)."""
    if not isinstance(raw, list):
        raise _fail(path, "classes", "must be a list")
    entries, labels, ids = [], set(), set()
    for position, entry in enumerate(raw):
        field = f"classes[{position}]"
        if not isinstance(entry, dict):
            raise _fail(path, field, "must be an object")
        try:
            label = check_label(entry.get("label"))
        except InputError as exc:
            raise _fail(path, f"{field}.label", f"is not a valid label: {exc}") from None
        key = (type(label).__name__, label)
        if key in labels:
            raise _fail(path, f"{field}.label", f"repeats {label!r}")
        labels.add(key)
        shots = _int(entry.get("shots"), path, f"{field}.shots", 1, MAX_ID)
        own = entry.get("ids")
        wanted = 1 if mode == "prototype" else shots
        if not isinstance(own, list) or len(own) != wanted:
            raise _fail(path, f"{field}.ids", f"must list {wanted} id(s) in {mode} mode")
        for value in own:
            _int(value, path, f"{field}.ids", 0, next_id - 1)
            if value in ids:
                raise _fail(path, f"{field}.ids", f"repeats id {value}")
            ids.add(value)
        entries.append(ClassEntry(label, shots, list(own)))
    return entries


def _name(value: Any, folder: Path, path: Path, field: str) -> str:
    contained(folder, value, f"{path}: field {field!r}")
    if "/" in value:
        raise _fail(path, field, "must name a file of the snapshot folder itself")
    return str(value)


def _check_head(head: Any, dim: Any, folder: Path, path: Path) -> str:
    if not isinstance(head, dict) or not isinstance(head.get("spec"), dict):
        raise _fail(path, "head", "must be an object with a spec")
    spec = head["spec"]
    if spec.get("type") != "projection" or set(spec) != {"type", "dim"}:
        raise _fail(path, "head.spec", "must be a projection head spec {type, dim}")
    if dim is None or spec.get("dim") != dim:
        raise _fail(path, "head.spec.dim", f"must equal the manifest's dim ({dim})")
    return _name(head.get("weights"), folder, path, "head.weights")


def _check_encoder(entry: Any, folder: Path, path: Path) -> list[str]:
    if entry is None:
        return []
    if not isinstance(entry, dict) or not isinstance(entry.get("spec"), dict):
        raise _fail(path, "encoder", "must be null or an object with a spec")
    if entry.get("checkpoint") is None:
        return []
    if entry["checkpoint"] != "encoder":
        raise _fail(path, "encoder.checkpoint", "must be 'encoder', the snapshot's own folder")
    contained(folder, "encoder", f"{path}: field 'encoder.checkpoint'")
    return list(ENCODER_FILES)


def check_tensor_file(path: Path, expected: dict[str, tuple[int, ...]]) -> None:
    """A safetensors file must hold exactly ``expected`` (name → shape) float32 tensors; read
    from its header, before any tensor is loaded."""
    try:
        with safe_open(str(path), framework="numpy") as handle:
            names = set(handle.keys())
            if names != set(expected):
                raise StoreFormatError(
                    f"{path} holds tensors {sorted(names)}, expected {sorted(expected)}"
                )
            for name, shape in expected.items():
                sliced = handle.get_slice(name)
                if tuple(sliced.get_shape()) != shape or sliced.get_dtype() != "F32":
                    raise StoreFormatError(
                        f"{path}: tensor {name!r} is {sliced.get_dtype()} {tuple(sliced.get_shape())}, "
                        f"expected F32 {shape}"
                    )
    except (SafetensorError, OSError) as exc:
        raise StoreFormatError(f"cannot read {path}: {exc}") from exc
