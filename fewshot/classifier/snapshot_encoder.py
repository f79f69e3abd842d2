"""How a snapshot records its encoder: by name when a shipped one rebuilds it exactly, else as a
checkpoint folder inside the snapshot; and reading it back without following a saved spec to
files outside the snapshot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fewshot.encoders import Encoder, TorchEncoder, load_encoder, write_checkpoint_files
from fewshot.errors import InputError, StoreFormatError

ENCODER_DIR = "encoder"
# Encoders that load_encoder rebuilds exactly from their name (weights ship in packages).
REBUILDABLE = ("efficientnet-lite0", "minilm", "omniglot-conv4")


def encoder_entry(encoder: Encoder | None, checkpoint: Path) -> dict[str, Any] | None:
    """The manifest's encoder entry: its name when load_encoder rebuilds it, else a checkpoint
    written to ``checkpoint`` (the snapshot's encoder folder)."""
    if encoder is None:
        return None
    spec = encoder.spec
    if spec.get("name") in REBUILDABLE and "checkpoint" not in spec and "finetuned" not in spec:
        return {"spec": spec}
    if spec.get("name") == "torchvision" and spec.get("weights") is None:
        return {"spec": spec}
    if isinstance(encoder, TorchEncoder) and encoder.architecture and encoder.preprocess_spec:
        checkpoint.mkdir()
        write_checkpoint_files(encoder, checkpoint)
        return {"checkpoint": ENCODER_DIR, "spec": spec}
    return {"spec": spec, "saved": False}


def snapshot_encoder(
    folder: Path, entry: dict[str, Any] | None, override: Any, options: dict[str, Any]
) -> Encoder | None:
    """The encoder to load with: ``override``, the snapshot's own checkpoint, or a shipped name
    (a saved spec is never followed to files outside the snapshot)."""
    if override is not None:
        return override if isinstance(override, Encoder) else load_encoder(override, **options)
    if entry is None:
        return None
    if entry.get("checkpoint"):
        return load_encoder(str(folder / ENCODER_DIR), **options)
    spec = entry["spec"]
    if entry.get("saved") is False:
        raise InputError(
            f"the classifier in {folder.parent} was saved with an encoder that cannot be "
            f"rebuilt ({spec}); pass it: FewShotClassifier.load(path, encoder=...)"
        )
    if spec.get("name") in REBUILDABLE and not ({"checkpoint", "weights"} & set(spec)):
        return load_encoder(spec["name"], **options)
    if spec.get("name") == "torchvision" and spec.get("weights") is None:
        return load_encoder(spec, **options)
    raise StoreFormatError(
        f"{folder / 'manifest.json'}: field 'encoder' names {str(spec)[:80]}, which is neither a "
        "shipped encoder nor the snapshot's own checkpoint"
    )
