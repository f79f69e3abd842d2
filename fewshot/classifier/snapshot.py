"""The saved classifier's file format: one snapshot folder, written and read without pickle.

A snapshot holds a FAISS index, the shots (safetensors), raw texts (JSON), a projection head
(safetensors), the encoder (its name, or a checkpoint folder) and ``manifest.json`` with the
format version, the settings and a SHA-256 of every file. ``fewshot.store_directory`` puts the
folder in place crash-safely; ``manifest`` checks what is read back. This module works on plain
values (settings, encoder, head, a ``CatalogState``), never on a classifier object.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file
from safetensors.torch import load_file as load_torch_file

from fewshot.classifier.backends import restore_label_sets
from fewshot.classifier.catalog import CatalogState
from fewshot.classifier.inputs import check_settings
from fewshot.classifier.label_sets import DEFAULT_SET, LabelSets
from fewshot.classifier.manifest import FORMAT, VERSION, check_manifest, check_tensor_file
from fewshot.classifier.set_files import read_sets, write_sets
from fewshot.classifier.snapshot_encoder import ENCODER_DIR, encoder_entry, snapshot_encoder
from fewshot.classifier.space import MetricSpace
from fewshot.durable import read_json, sha256_file, verify_checksums, write_json_atomic
from fewshot.encoders import Encoder
from fewshot.errors import InputError, StoreFormatError
from fewshot.heads.projection import ProjectionHead
from fewshot.metrics import get_metric
from fewshot.store_directory import commit_snapshot, editing_store, reading_store
from fewshot.stores import CLASS_BACKENDS, load_store, make_store
from fewshot.stores.faiss_files import check_index_file
from fewshot.version import __version__

MANIFEST_NAME = "manifest.json"
SHOTS_NAME = "shots.safetensors"
EXAMPLES_NAME = "examples.json"
HEAD_NAME = "head.safetensors"
INDEX_NAME = "index.faiss"
#: The classifier settings a manifest records (constructor keywords).
SETTINGS = ("metric", "mode", "threshold", "n_neighbors", "store")


@dataclass(frozen=True)
class Snapshot:
    """A verified snapshot: settings (constructor keywords), encoder, and its classes."""

    settings: dict[str, Any]
    encoder: Encoder | None
    sets: LabelSets


def save_classifier(
    root: Path,
    settings: dict[str, Any],
    encoder: Encoder | None,
    head: ProjectionHead | None,
    state: CatalogState,
    *,
    sets: dict[str, CatalogState] | None = None,
    address: dict[str, Any] | None = None,
    locked: bool = False,
) -> Path:
    """Write a new snapshot of a classifier into store directory ``root`` (``sets``: the other
    label sets; ``address``: where a database backend keeps the classes); returns its folder."""
    return commit_snapshot(
        root,
        lambda folder: write_files(folder, settings, encoder, head, state, sets, address),
        locked=locked,
    )


def load_classifier(
    root: Path,
    encoder: Encoder | str | None,
    options: dict[str, Any],
    store_options: Mapping[str, Any] | None = None,
) -> Snapshot:
    """Read the live snapshot of store directory ``root`` (``encoder`` overrides the saved one,
    ``options`` go to ``load_encoder``; ``store_options`` add to the saved ones)."""
    with reading_store(root) as folder:
        return read_snapshot(folder, encoder, options, store_options)


@contextmanager
def editing_classifier(
    root: Path, encoder: Encoder | str | None, options: dict[str, Any]
) -> Iterator[Snapshot | None]:
    """The live snapshot (``None`` for a new store) with the store's exclusive lock held until
    the block ends; save inside with ``save_classifier(..., locked=True)``."""
    with editing_store(root) as folder:
        yield None if folder is None else read_snapshot(folder, encoder, options)


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
    try:
        if labels:
            shots = np.concatenate([state.shots[label] for label in labels])
            save_file({"shots": shots}, str(folder / SHOTS_NAME))
            files.append(SHOTS_NAME)
        if head is not None:
            weights = {k: v.numpy() for k, v in head.state_dict().items()}
            save_file(weights, str(folder / HEAD_NAME))
            files.append(HEAD_NAME)
    except SafetensorError as exc:  # e.g. a full disk: reported as the OSError it is
        raise OSError(str(exc)) from exc
    if state.index is not None:
        state.index.save(folder / INDEX_NAME)
        files.append(INDEX_NAME)
    examples = None
    if labels and state.examples is not None:  # texts only: other inputs are never kept
        write_json_atomic(folder / EXAMPLES_NAME, [state.examples[label] for label in labels])
        files.append(EXAMPLES_NAME)
        examples = EXAMPLES_NAME
    encoder_record = encoder_entry(encoder, folder / ENCODER_DIR)
    if encoder_record and encoder_record.get("checkpoint"):
        files += [f"{ENCODER_DIR}/{path.name}" for path in sorted((folder / ENCODER_DIR).iterdir())]
    write_set = lambda sub, st: write_files(sub, settings, None, None, st)  # noqa: E731
    set_files, set_entries = write_sets(folder, sets or {}, write_set, MANIFEST_NAME)
    files += set_files
    extra: dict[str, Any] = {"label_sets": set_entries} if set_entries else {}
    extra |= {"store_address": address} if address else {}
    manifest = {
        "format": FORMAT,
        "format_version": VERSION if extra else 2,  # plain saves stay readable by format-2 code
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
        "head": None if head is None else {"spec": head.spec, "weights": HEAD_NAME},
        **extra,  # format 3
        "files": {name: sha256_file(folder / name) for name in files},
    }
    write_json_atomic(folder / MANIFEST_NAME, manifest)


def read_snapshot(
    folder: Path,
    encoder: Encoder | str | None,
    options: dict[str, Any],
    store_options: Mapping[str, Any] | None = None,
) -> Snapshot:
    """Check and read one snapshot folder (the caller holds the store's lock)."""
    path = folder / MANIFEST_NAME
    manifest = check_manifest(read_json(path, "saved classifier"), folder, path)
    verify_checksums(folder, manifest["files"], "saved classifier")
    settings = {name: manifest[name] for name in SETTINGS if name != "store"}
    settings["store"] = manifest.get("store", "flat")
    check_settings(manifest["mode"], manifest["n_neighbors"], store_options)
    settings["store_options"] = {**(manifest.get("store_options") or {}), **(store_options or {})}
    _check_store_options(settings["store"], settings["store_options"], path)
    resolved = snapshot_encoder(folder, manifest.get("encoder"), encoder, options)
    dim = manifest["dim"]
    if resolved is not None and dim is not None and resolved.dim != dim:
        raise InputError(
            f"the encoder gives {resolved.dim}-d embeddings; the saved classifier holds {dim}-d"
        )
    head = _load_head(folder, manifest["head"]) if manifest.get("head") else None
    space = MetricSpace(get_metric(manifest["metric"]), head)
    states = {DEFAULT_SET: _catalog_state(folder, manifest, space)}
    states |= read_sets(
        folder, manifest.get("label_sets"), partial(_set_state, space=space), MANIFEST_NAME
    )
    sets = restore_label_sets(space, settings, states, manifest.get("store_address"))
    return Snapshot(settings, resolved, sets)


def _set_state(folder: Path, manifest: dict[str, Any], space: MetricSpace) -> CatalogState:
    """The classes of a nested label-set snapshot (its manifest checked like the top one)."""
    return _catalog_state(folder, check_manifest(manifest, folder, folder / MANIFEST_NAME), space)


def _check_store_options(store: str, options: dict[str, Any], path: Path) -> None:
    """The saved backend and its options must build a store (tried on a 1-d dummy; a class
    backend such as pgvector checks its own options when it opens its table)."""
    if store in CLASS_BACKENDS:
        return
    try:
        make_store(store, 1, "cosine", **options)
    except (InputError, TypeError, ValueError) as exc:
        raise StoreFormatError(
            f"{path}: fields 'store'/'store_options' do not build a store: {exc}"
        ) from exc


def _catalog_state(folder: Path, manifest: dict[str, Any], space: MetricSpace) -> CatalogState:
    """Shots, ids, texts and the store of a checked manifest, each checked against its file."""
    dim, classes = manifest["dim"], manifest["classes"]
    if not classes:
        return CatalogState(dim, manifest["next_id"], {}, {}, None, None)
    counts = [entry["shots"] for entry in classes]
    check_tensor_file(folder / SHOTS_NAME, {"shots": (sum(counts), dim)})
    check_index_file(folder / INDEX_NAME, dim)
    shots_all = load_file(str(folder / SHOTS_NAME))["shots"]
    index = load_store(manifest.get("store", "flat"), folder / INDEX_NAME, dim, space.metric)
    shots, ids, start = {}, {}, 0
    for entry in classes:
        shots[entry["label"]] = shots_all[start : start + entry["shots"]].copy()
        ids[entry["label"]] = np.asarray(entry["ids"], dtype=np.int64)
        start += entry["shots"]
    examples = None
    if manifest.get("examples"):
        texts = read_json(folder / manifest["examples"], "saved classifier examples")
        if (
            not isinstance(texts, list)
            or len(texts) != len(classes)
            or any(
                not isinstance(items, list)
                or len(items) != count
                or not all(isinstance(item, str) for item in items)
                for items, count in zip(texts, counts)
            )
        ):
            raise StoreFormatError(
                f"{folder / manifest['examples']} does not match the classes in the manifest"
            )
        examples = dict(zip(shots, texts))
    return CatalogState(dim, manifest["next_id"], shots, ids, examples, index)


def _load_head(folder: Path, entry: dict[str, Any]) -> ProjectionHead:
    """Rebuild a saved projection head (its spec was checked against ``dim``), strictly."""
    dim = entry["spec"]["dim"]
    path = folder / entry["weights"]
    check_tensor_file(path, {"linear.weight": (dim, dim), "linear.bias": (dim,)})
    head = ProjectionHead(dim)
    try:
        head.load_state_dict(load_torch_file(str(path)), strict=True)
    except (RuntimeError, SafetensorError) as exc:
        raise StoreFormatError(f"{path}: {exc}") from exc
    head.eval()
    for parameter in head.parameters():
        parameter.requires_grad_(False)
    return head
