"""The saved classifier's file format: one snapshot folder, written and read without pickle.

A snapshot holds a FAISS index, the shots (safetensors), raw texts (JSON), a projection head
(safetensors), the encoder (its name, or a checkpoint folder) and ``manifest.json`` with the
format version, the settings and a SHA-256 of every file. ``fewshot.durable`` puts the folder
in place crash-safely; this module only knows what goes inside. It works on plain values (the
settings, the encoder, the head and a ``CatalogState``), never on a classifier object.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load_file, save_file
from safetensors.torch import load_file as load_torch_file

from fewshot.classifier.backends import restore_label_sets
from fewshot.classifier.catalog import CatalogState
from fewshot.classifier.inputs import check_label, check_settings
from fewshot.classifier.label_sets import DEFAULT_SET, LabelSets
from fewshot.classifier.set_files import read_sets, write_sets
from fewshot.classifier.space import MetricSpace
from fewshot.durable import (
    commit_snapshot,
    read_json,
    reading_store,
    sha256_file,
    verify_checksums,
    write_json_atomic,
)
from fewshot.encoders import Encoder, TorchEncoder, load_encoder, write_checkpoint_files
from fewshot.errors import InputError, StoreFormatError
from fewshot.heads.projection import ProjectionHead
from fewshot.metrics import get_metric
from fewshot.stores import load_store
from fewshot.version import __version__

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = "fewshot.classifier"
MANIFEST_VERSION = 3  # 2: raw text examples (examples.json) and a projection head; 3: label
# sets besides the default (sets/<i>/) and a database's store_address (else it writes 2)
SHOTS_NAME = "shots.safetensors"
EXAMPLES_NAME = "examples.json"
HEAD_NAME = "head.safetensors"
INDEX_NAME = "index.faiss"
ENCODER_DIR = "encoder"
#: The classifier settings a manifest records (constructor keywords).
SETTINGS = ("metric", "mode", "threshold", "n_neighbors", "store")
# Encoders that load_encoder rebuilds exactly from their name (weights ship in packages).
_REBUILDABLE = {"efficientnet-lite0", "minilm", "omniglot-conv4"}


@dataclass(frozen=True)
class Snapshot:
    """What a snapshot folder holds, ready for ``FewShotClassifier`` to rebuild itself from."""

    settings: dict[str, Any]
    encoder: Encoder | None
    head: ProjectionHead | None
    manifest: dict[str, Any]
    folder: Path


def save_classifier(
    root: Path,
    settings: dict[str, Any],
    encoder: Encoder | None,
    head: ProjectionHead | None,
    state: CatalogState,
    *,
    sets: dict[str, CatalogState] | None = None,
    address: dict[str, Any] | None = None,
) -> Path:
    """Write a new snapshot into store directory ``root`` (``sets``: other label sets)."""
    return commit_snapshot(
        root, lambda folder: write_files(folder, settings, encoder, head, state, sets, address)
    )


def load_classifier(
    root: Path,
    encoder: Encoder | str | None,
    options: dict[str, Any],
    store_options: Mapping[str, Any] | None = None,
) -> tuple[Snapshot, LabelSets]:
    """The live snapshot of store directory ``root`` and its classes (``encoder`` overrides the
    saved one, ``options`` go to it; ``store_options`` add to the saved ones)."""
    with reading_store(root) as folder:
        snapshot = read_files(folder, encoder, options)
        space = MetricSpace(get_metric(snapshot.settings["metric"]), snapshot.head)
        settings = snapshot.settings
        check_settings(settings["mode"], settings["n_neighbors"], store_options)
        settings["store_options"] = {**settings["store_options"], **(store_options or {})}
        states = {DEFAULT_SET: catalog_state(snapshot, space.metric)}
        read = partial(_catalog_state, encoder=snapshot.encoder, metric=space.metric)
        states |= read_sets(folder, snapshot.manifest.get("label_sets"), read, MANIFEST_NAME)
        address = snapshot.manifest.get("store_address")
    return snapshot, restore_label_sets(space, settings, states, address)


def encoder_entry(encoder: Encoder | None, folder: Path) -> dict[str, Any] | None:
    """The manifest's encoder entry: its name when load_encoder rebuilds it, else a checkpoint."""
    if encoder is None:
        return None
    spec = encoder.spec
    if spec.get("name") in _REBUILDABLE and "checkpoint" not in spec and "finetuned" not in spec:
        return {"spec": spec}
    if spec.get("name") == "torchvision" and spec.get("weights") is None:
        return {"spec": spec}
    if isinstance(encoder, TorchEncoder) and encoder.architecture and encoder.preprocess_spec:
        (folder / ENCODER_DIR).mkdir()
        write_checkpoint_files(encoder, folder / ENCODER_DIR)
        return {"checkpoint": ENCODER_DIR, "spec": spec}
    return {"spec": spec, "saved": False}


def write_files(
    folder: Path,
    settings: dict[str, Any],
    encoder: Encoder | None,
    head: ProjectionHead | None,
    state: CatalogState,
    sets: dict[str, CatalogState] | None = None,
    address: dict[str, Any] | None = None,
) -> None:
    """Write every file of one snapshot into ``folder`` (the caller holds the read lock);
    other label sets go into nested snapshots (``set_files``)."""
    labels = list(state.shots)
    files: list[str] = []
    if labels:
        save_file(
            {"shots": np.concatenate([state.shots[label] for label in labels])},
            str(folder / SHOTS_NAME),
        )
        files.append(SHOTS_NAME)
    if state.index is not None:
        state.index.save(folder / INDEX_NAME)
        files.append(INDEX_NAME)
    examples = None
    if labels and state.examples is not None:  # texts only: other inputs are never kept
        write_json_atomic(folder / EXAMPLES_NAME, [state.examples[label] for label in labels])
        files.append(EXAMPLES_NAME)
        examples = EXAMPLES_NAME
    head_entry = None
    if head is not None:
        save_file({k: v.numpy() for k, v in head.state_dict().items()}, str(folder / HEAD_NAME))
        files.append(HEAD_NAME)
        head_entry = {"spec": head.spec, "weights": HEAD_NAME}
    encoder_record = encoder_entry(encoder, folder)
    if encoder_record and encoder_record.get("checkpoint"):
        files += [f"{ENCODER_DIR}/{path.name}" for path in sorted((folder / ENCODER_DIR).iterdir())]
    write_set = lambda sub, st: write_files(sub, settings, None, None, st)  # noqa: E731
    set_files, set_entries = write_sets(folder, sets or {}, write_set, MANIFEST_NAME)
    files += set_files
    extra: dict[str, Any] = {"label_sets": set_entries} if set_entries else {}
    extra |= {"store_address": address} if address else {}
    manifest = {
        "format": MANIFEST_FORMAT,
        "format_version": MANIFEST_VERSION if extra else 2,
        "fewshot_version": __version__,
        **{name: settings[name] for name in SETTINGS},
        "store_options": settings.get("store_options") or {},
        "dim": state.dim,
        "next_id": state.next_id,
        "encoder": encoder_record,
        "classes": [
            {"label": label, "shots": len(state.shots[label]), "ids": state.ids[label].tolist()}
            for label in labels
        ],
        "examples": examples,  # per class, in the order of "classes" (format 2)
        "head": head_entry,  # format 2
        **extra,  # format 3
        "files": {name: sha256_file(folder / name) for name in files},
    }
    write_json_atomic(folder / MANIFEST_NAME, manifest)


def read_files(folder: Path, encoder: Encoder | str | None, options: dict[str, Any]) -> Snapshot:
    """Read and verify one snapshot's manifest, encoder and head (the caller holds the lock).

    ``encoder`` overrides the saved one (e.g. one that could not be saved); ``options`` go to
    ``load_encoder``. The classes are read by ``catalog_state`` once the settings are known.
    """
    manifest_path = folder / MANIFEST_NAME
    manifest = read_json(manifest_path, "saved classifier")
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise StoreFormatError(
            f"{manifest_path} is not a fewshot classifier manifest (foreign file)"
        )
    version = manifest.get("format_version")
    if not isinstance(version, int) or version > MANIFEST_VERSION:
        raise StoreFormatError(
            f"{manifest_path} has format_version {version!r}; this fewshot reads up to "
            f"{MANIFEST_VERSION}: upgrade fewshot to load it"
        )
    try:
        verify_checksums(folder, manifest["files"], "saved classifier")
        settings = {name: manifest[name] for name in SETTINGS if name != "store"}
        settings["store"] = manifest.get("store", "flat")
        settings["store_options"] = manifest.get("store_options") or {}
        resolved = _snapshot_encoder(folder, manifest.get("encoder"), encoder, options)
        head = load_head(folder, manifest["head"]) if manifest.get("head") else None
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, (InputError, StoreFormatError)):
            raise
        raise StoreFormatError(f"{manifest_path} is malformed: {exc!r}") from exc
    return Snapshot(settings, resolved, head, manifest, folder)


def catalog_state(snapshot: Snapshot, metric: Any) -> CatalogState:
    """The classes of a snapshot: shots, ids, texts and the store (checked against each other)."""
    folder, manifest = snapshot.folder, snapshot.manifest
    try:
        return _catalog_state(folder, manifest, snapshot.encoder, metric)
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, (InputError, StoreFormatError)):
            raise
        raise StoreFormatError(f"{folder / MANIFEST_NAME} is malformed: {exc!r}") from exc


def _catalog_state(
    folder: Path, manifest: dict[str, Any], encoder: Encoder | None, metric: Any
) -> CatalogState:
    dim = manifest["dim"]
    if encoder is not None and dim is not None and encoder.dim != dim:
        raise InputError(
            f"the encoder gives {encoder.dim}-d embeddings; the saved classifier holds {dim}-d"
        )
    classes = manifest["classes"]
    if not classes:
        return CatalogState(None if dim is None else int(dim), 0, {}, {}, None, None)
    shots_all = load_file(str(folder / SHOTS_NAME))["shots"]
    index = load_store(manifest.get("store", "flat"), folder / INDEX_NAME, int(dim), metric)
    shots, ids, start = {}, {}, 0
    for entry in classes:
        label = check_label(entry["label"])
        count = int(entry["shots"])
        shots[label] = shots_all[start : start + count].copy()
        ids[label] = np.asarray(entry["ids"], dtype=np.int64)
        start += count
    if start != len(shots_all):
        raise StoreFormatError(
            f"{folder / SHOTS_NAME} holds {len(shots_all)} shots; the manifest lists {start}"
        )
    examples = None
    if manifest.get("examples"):
        texts = read_json(folder / manifest["examples"], "saved classifier examples")
        if (
            not isinstance(texts, list)
            or len(texts) != len(classes)
            or any(
                not isinstance(items, list) or len(items) != int(entry["shots"])
                for items, entry in zip(texts, classes)
            )
        ):
            raise StoreFormatError(
                f"{folder / manifest['examples']} does not match the classes in the manifest"
            )
        examples = {label: [str(item) for item in items] for label, items in zip(shots, texts)}
    return CatalogState(int(dim), int(manifest["next_id"]), shots, ids, examples, index)


def _snapshot_encoder(
    folder: Path, entry: dict[str, Any] | None, override: Any, options: dict[str, Any]
) -> Encoder | None:
    """The encoder to load with: ``override``, the saved checkpoint, or the saved name."""
    if override is not None:
        return override if isinstance(override, Encoder) else load_encoder(override, **options)
    if entry is None:
        return None
    if entry.get("checkpoint"):
        return load_encoder(str(folder / entry["checkpoint"]), **options)
    if entry.get("saved") is False:
        raise InputError(
            f"the classifier in {folder.parent} was saved with an encoder that cannot be "
            f"rebuilt ({entry.get('spec')}); pass it: FewShotClassifier.load(path, encoder=...)"
        )
    return load_encoder(entry["spec"], **options)


def load_head(folder: Path, entry: dict[str, Any]) -> ProjectionHead:
    """Rebuild a saved projection head from its spec and safetensors weights (strict)."""
    spec = entry["spec"]
    if spec.get("type") != "projection":
        raise StoreFormatError(f"{folder}: unknown head type {spec.get('type')!r}")
    head = ProjectionHead(int(spec["dim"]))
    try:
        head.load_state_dict(load_torch_file(str(folder / entry["weights"])), strict=True)
    except RuntimeError as exc:
        raise StoreFormatError(f"{folder / entry['weights']}: {exc}") from exc
    head.eval()
    for parameter in head.parameters():
        parameter.requires_grad_(False)
    return head
