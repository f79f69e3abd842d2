"""One saved classifier snapshot: the files it holds, written and read back without pickle.

``FewShotClassifier.save`` / ``load`` hand a folder to these functions inside ``fewshot.io``'s
crash-safe snapshot protocol: a FAISS index, the shots (safetensors), raw text examples (JSON),
a projection head (safetensors), the encoder (its name, or a checkpoint folder) and a JSON
manifest with the format version and a SHA-256 of every file.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from safetensors.numpy import load_file, save_file
from safetensors.torch import load_file as load_torch_file

from fewshot.encoders import Encoder, TorchEncoder, load_encoder
from fewshot.encoders.checkpoint import write_checkpoint_files
from fewshot.errors import InputError, StoreFormatError
from fewshot.heads.projection import ProjectionHead
from fewshot.io import read_json, sha256_file, verify_checksums, write_json_atomic
from fewshot.stores import load_store

if TYPE_CHECKING:
    from fewshot.classifier import FewShotClassifier

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = "fewshot.classifier"
MANIFEST_VERSION = 2  # 2: raw text examples (examples.json) and a projection head
SHOTS_NAME = "shots.safetensors"
EXAMPLES_NAME = "examples.json"
HEAD_NAME = "head.safetensors"
INDEX_NAME = "index.faiss"
ENCODER_DIR = "encoder"
# Encoders that load_encoder rebuilds exactly from their name (weights ship in packages).
_REBUILDABLE = {"efficientnet-lite0", "minilm", "omniglot-conv4"}


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


def write_snapshot(clf: FewShotClassifier, folder: Path) -> None:
    """Write every file of one snapshot of ``clf`` into ``folder`` (the caller holds its read lock)."""
    labels = list(clf._shots)
    entries = [
        {"label": label, "shots": len(clf._shots[label]), "ids": clf._ids[label].tolist()}
        for label in labels
    ]
    files: list[str] = []
    if labels:
        save_file(
            {"shots": np.concatenate([clf._shots[label] for label in labels])},
            str(folder / SHOTS_NAME),
        )
        files.append(SHOTS_NAME)
    if clf._store is not None:
        clf._store.save(folder / INDEX_NAME)
        files.append(INDEX_NAME)
    examples = None
    if labels and clf._has_all_examples():  # texts only: other inputs are never kept
        write_json_atomic(folder / EXAMPLES_NAME, [clf._examples[label] for label in labels])
        files.append(EXAMPLES_NAME)
        examples = EXAMPLES_NAME
    head = None
    if clf.head is not None:
        save_file({k: v.numpy() for k, v in clf.head.state_dict().items()}, str(folder / HEAD_NAME))
        files.append(HEAD_NAME)
        head = {"spec": clf.head.spec, "weights": HEAD_NAME}
    encoder = encoder_entry(clf.encoder, folder)
    if encoder and encoder.get("checkpoint"):
        files += [f"{ENCODER_DIR}/{path.name}" for path in sorted((folder / ENCODER_DIR).iterdir())]
    from fewshot import __version__

    manifest = {
        "format": MANIFEST_FORMAT,
        "format_version": MANIFEST_VERSION,
        "fewshot_version": __version__,
        "metric": clf.metric,
        "mode": clf.mode,
        "threshold": clf.threshold,
        "n_neighbors": clf.n_neighbors,
        "store": clf.store,
        "dim": clf._dim,
        "next_id": clf._next_id,
        "encoder": encoder,
        "classes": entries,
        "examples": examples,  # per class, in the order of "classes" (format 2)
        "head": head,  # format 2
        "files": {name: sha256_file(folder / name) for name in files},
    }
    write_json_atomic(folder / MANIFEST_NAME, manifest)


def read_snapshot(
    cls: type[FewShotClassifier],
    folder: Path,
    encoder: Encoder | str | None,
    encoder_options: dict[str, Any],
) -> FewShotClassifier:
    """Read one snapshot folder (the caller holds the store's shared lock)."""
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
        resolved = snapshot_encoder(folder, manifest.get("encoder"), encoder, encoder_options)
        clf = cls(
            resolved,
            metric=manifest["metric"],
            mode=manifest["mode"],
            threshold=manifest["threshold"],
            n_neighbors=manifest["n_neighbors"],
            store=manifest.get("store", "flat"),
        )
        restore(clf, folder, manifest)
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, (InputError, StoreFormatError)):
            raise
        raise StoreFormatError(f"{manifest_path} is malformed: {exc!r}") from exc
    return clf


def snapshot_encoder(
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


def restore(clf: FewShotClassifier, folder: Path, manifest: dict[str, Any]) -> None:
    """Fill a new classifier's classes, store, examples and head from a snapshot folder."""
    from fewshot.classifier import check_label  # classifier imports this module

    dim = manifest["dim"]
    if clf.encoder is not None and dim is not None and clf.encoder.dim != dim:
        raise InputError(
            f"the encoder gives {clf.encoder.dim}-d embeddings; the saved classifier holds {dim}-d"
        )
    classes = manifest["classes"]
    if manifest.get("head"):
        clf.head = load_head(folder, manifest["head"])
    if not classes:
        if dim is not None:
            clf._dim = int(dim)
        return
    shots = load_file(str(folder / SHOTS_NAME))["shots"]
    store = load_store(clf.store, folder / INDEX_NAME, int(dim), clf.metric)
    clf._dim, clf._store, clf._next_id = int(dim), store, int(manifest["next_id"])
    clf._label_by_id = np.empty(max(clf._next_id, 64), dtype=object)
    start = 0
    for entry in classes:
        label = check_label(entry["label"])
        count = int(entry["shots"])
        clf._shots[label] = shots[start : start + count].copy()
        clf._ids[label] = np.asarray(entry["ids"], dtype=np.int64)
        clf._label_by_id[clf._ids[label]] = label
        start += count
    if start != len(shots):
        raise StoreFormatError(
            f"{folder / SHOTS_NAME} holds {len(shots)} shots; the manifest lists {start}"
        )
    if manifest.get("examples"):
        examples = read_json(folder / manifest["examples"], "saved classifier examples")
        if (
            not isinstance(examples, list)
            or len(examples) != len(classes)
            or any(
                not isinstance(items, list) or len(items) != int(entry["shots"])
                for items, entry in zip(examples, classes)
            )
        ):
            raise StoreFormatError(
                f"{folder / manifest['examples']} does not match the classes in the manifest"
            )
        for entry, items in zip(classes, examples):
            clf._examples[check_label(entry["label"])] = [str(item) for item in items]
    stored = np.sort(store.ids())
    listed = np.sort(np.concatenate(list(clf._ids.values())))
    if not np.array_equal(stored, listed):
        raise StoreFormatError(f"{folder / INDEX_NAME} does not hold the ids the manifest lists")


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
