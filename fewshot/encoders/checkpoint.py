"""Encoder checkpoints: ``encoder.json`` (architecture, preprocessing, version) + ``model.safetensors``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from safetensors import SafetensorError
from safetensors.torch import load_model, save_model

from fewshot.durable import (
    read_json,
    replace_directory,
    sha256_file,
    verify_checksums,
    write_json_atomic,
)
from fewshot.encoders.architectures import build_architecture
from fewshot.encoders.base import TorchEncoder
from fewshot.encoders.preprocess import ImagePreprocess
from fewshot.errors import InputError, StoreFormatError

CHECKPOINT_FORMAT = "fewshot.encoder"
CHECKPOINT_VERSION = 1
CONFIG_NAME = "encoder.json"
WEIGHTS_NAME = "model.safetensors"


def is_checkpoint(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is a directory holding an encoder checkpoint."""
    return (Path(path) / CONFIG_NAME).is_file()


def write_checkpoint_files(
    encoder: TorchEncoder, folder: Path, extra: dict[str, Any] | None = None
) -> None:
    """Write the checkpoint files of ``encoder`` into an existing ``folder``."""
    if not isinstance(encoder, TorchEncoder) or encoder.architecture is None:
        raise InputError(
            "this encoder cannot be saved: it has no registered architecture. Build it with "
            "fewshot.wrap_module(module, architecture=NAME) after "
            "fewshot.encoders.register_architecture(NAME, factory)"
        )
    if encoder.preprocess_spec is None:
        raise InputError("this encoder cannot be saved: its preprocessing has no JSON spec")
    save_model(encoder.module, str(folder / WEIGHTS_NAME))
    config = {
        "format": CHECKPOINT_FORMAT,
        "format_version": CHECKPOINT_VERSION,
        "architecture": encoder.architecture,
        "architecture_kwargs": encoder.architecture_kwargs,
        "preprocess": encoder.preprocess_spec,
        "dim": encoder.dim,
        "spec": encoder.spec,
        "files": {WEIGHTS_NAME: sha256_file(folder / WEIGHTS_NAME)},
        "extra": extra or {},
    }
    write_json_atomic(folder / CONFIG_NAME, config)


def save_checkpoint(
    encoder: TorchEncoder, directory: str | os.PathLike[str], extra: dict[str, Any] | None = None
) -> Path:
    """Save ``encoder`` so that ``fewshot.load_encoder(directory)`` rebuilds it; atomic."""
    return replace_directory(
        directory, lambda folder: write_checkpoint_files(encoder, folder, extra)
    )


def load_checkpoint(directory: str | os.PathLike[str], **options: Any) -> TorchEncoder:
    """Rebuild an encoder from a checkpoint directory (checksums verified, nothing unpickled)."""
    folder = Path(directory)
    config = read_json(folder / CONFIG_NAME, "encoder checkpoint")
    if not isinstance(config, dict) or config.get("format") != CHECKPOINT_FORMAT:
        raise StoreFormatError(f"{folder / CONFIG_NAME} is not a fewshot encoder checkpoint")
    version = config.get("format_version")
    if not isinstance(version, int) or version > CHECKPOINT_VERSION:
        raise StoreFormatError(
            f"{folder / CONFIG_NAME} has format_version {version!r}; this fewshot reads up to "
            f"{CHECKPOINT_VERSION}: upgrade fewshot to load it"
        )
    verify_checksums(folder, config.get("files", {}), "encoder checkpoint")
    module = build_architecture(config["architecture"], **config.get("architecture_kwargs", {}))
    try:
        load_model(module, str(folder / WEIGHTS_NAME), strict=True, device="cpu")
    except (SafetensorError, RuntimeError) as exc:
        raise StoreFormatError(f"cannot load weights from {folder / WEIGHTS_NAME}: {exc}") from exc
    preprocess_spec = config["preprocess"]
    spec = dict(config.get("spec") or {})
    common = dict(
        dim=int(config["dim"]),
        spec={**spec, "checkpoint": str(folder.resolve())},
        architecture=config["architecture"],
        architecture_kwargs=config.get("architecture_kwargs", {}),
        preprocess_spec=preprocess_spec,
        **options,
    )
    kind = preprocess_spec.get("kind")
    if kind == "text":
        from fewshot.encoders.text import TextEncoder

        return TextEncoder(module, **common)
    if kind == "image":
        fields = {key: value for key, value in preprocess_spec.items() if key != "kind"}
        common.setdefault("channels_last", True)
        return TorchEncoder(module, ImagePreprocess.from_dict(fields), **common)
    if kind == "tensor":
        from fewshot.encoders.module import stack_tensors

        return TorchEncoder(module, stack_tensors, **common)
    raise StoreFormatError(f"{folder / CONFIG_NAME}: unknown preprocessing kind {kind!r}")


__all__ = ["is_checkpoint", "load_checkpoint", "save_checkpoint", "write_checkpoint_files"]
