"""Encoder checkpoints: ``encoder.json`` (architecture, preprocessing, version) + ``model.safetensors``.

This module is the format and its full form (format 1: every tensor of the network). A partial
checkpoint (format 2: the pre-trained base by name plus the tensors that changed) is written
and read by ``fewshot.encoders.partial``; ``fewshot.encoders.saving`` chooses between them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_model, save_model
from torch import nn

from fewshot.durable import read_json, sha256_file, verify_checksums, write_json_atomic
from fewshot.encoders.architectures import build_architecture
from fewshot.encoders.base import TorchEncoder
from fewshot.encoders.preprocess import ImagePreprocess
from fewshot.errors import FewShotError, InputError, StoreFormatError

CHECKPOINT_FORMAT = "fewshot.encoder"
CHECKPOINT_VERSION = 2  # the newest this fewshot reads: 1 full, 2 partial
FULL_VERSION = 1
CONFIG_NAME = "encoder.json"
WEIGHTS_NAME = "model.safetensors"


def is_checkpoint(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is a directory holding an encoder checkpoint."""
    return (Path(path) / CONFIG_NAME).is_file()


def check_saveable(encoder: Any) -> TorchEncoder:
    """``encoder`` if a checkpoint can describe it (a registered architecture and a JSON
    preprocessing), else ``InputError`` naming the fix."""
    if not isinstance(encoder, TorchEncoder) or encoder.architecture is None:
        raise InputError(
            "this encoder cannot be saved: it has no registered architecture. Build it with "
            "fewshot.wrap_module(module, architecture=NAME) after "
            "fewshot.encoders.register_architecture(NAME, factory)"
        )
    if encoder.preprocess_spec is None:
        raise InputError("this encoder cannot be saved: its preprocessing has no JSON spec")
    return encoder


def base_config(
    encoder: TorchEncoder, version: int, extra: dict[str, Any] | None
) -> dict[str, Any]:
    """The fields every checkpoint's ``encoder.json`` has (``files`` is added by the writer)."""
    return {
        "format": CHECKPOINT_FORMAT,
        "format_version": version,
        "architecture": encoder.architecture,
        "architecture_kwargs": encoder.architecture_kwargs,
        "preprocess": encoder.preprocess_spec,
        "dim": encoder.dim,
        "spec": encoder.spec,
        "extra": extra or {},
    }


def write_full_files(
    encoder: TorchEncoder, folder: Path, extra: dict[str, Any] | None = None
) -> None:
    """Write a full checkpoint (every tensor, format 1) of ``encoder`` into ``folder``."""
    check_saveable(encoder)
    save_model(encoder.module, str(folder / WEIGHTS_NAME))
    config = base_config(encoder, FULL_VERSION, extra)
    config["files"] = {WEIGHTS_NAME: sha256_file(folder / WEIGHTS_NAME)}
    write_json_atomic(folder / CONFIG_NAME, config)


def read_config(folder: Path) -> dict[str, Any]:
    """``encoder.json``, checked: format and version, field types, and a checksum for the weights."""
    path = folder / CONFIG_NAME
    config = read_json(path, "encoder checkpoint")
    if not isinstance(config, dict) or config.get("format") != CHECKPOINT_FORMAT:
        raise StoreFormatError(f"{path} is not a fewshot encoder checkpoint")
    version = config.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version > CHECKPOINT_VERSION:
        raise StoreFormatError(
            f"{path} has format_version {version!r}; this fewshot reads up to "
            f"{CHECKPOINT_VERSION}: upgrade fewshot to load it"
        )
    fields = {"architecture": str, "architecture_kwargs": dict, "preprocess": dict, "files": dict}
    for field, kind in fields.items():
        if not isinstance(config.get(field), kind):
            raise StoreFormatError(f"{path}: field {field!r} must be a {kind.__name__}")
    dim = config.get("dim")
    if isinstance(dim, bool) or not isinstance(dim, int) or not 0 < dim <= 1 << 16:
        raise StoreFormatError(f"{path}: field 'dim' must be an integer in [1, 65536]")
    if WEIGHTS_NAME not in config["files"]:
        raise StoreFormatError(f"{path}: field 'files' has no checksum for {WEIGHTS_NAME}")
    if config.get("spec") is not None and not isinstance(config["spec"], dict):
        raise StoreFormatError(f"{path}: field 'spec' must be an object")
    if version == 2:
        check_partial_fields(config, path)
    verify_checksums(folder, config["files"], "encoder checkpoint")
    return config


def check_partial_fields(config: dict[str, Any], path: Path) -> None:
    """The fields only a partial checkpoint (format 2) has: its base, blocks, dtype, digest."""
    if not isinstance(config.get("base"), dict) or not isinstance(config["base"].get("name"), str):
        raise StoreFormatError(f"{path}: field 'base' must be an object with a 'name'")
    blocks = config.get("blocks")
    if not isinstance(blocks, list) or not all(isinstance(b, str) for b in blocks):
        raise StoreFormatError(f"{path}: field 'blocks' must be a list of block names")
    if config.get("dtype") not in ("float16", "float32"):
        raise StoreFormatError(f"{path}: field 'dtype' must be 'float16' or 'float32'")
    digest = config.get("base_sha256")
    if not isinstance(digest, str) or len(digest) != 64 or set(digest) - set("0123456789abcdef"):
        raise StoreFormatError(f"{path}: field 'base_sha256' must be a hex SHA-256")


def build_checked(config: dict[str, Any], weights: Path) -> nn.Module:
    """The checkpoint's network, after its parameter shapes were compared with the weights
    file's header on torch's ``meta`` device (so hostile sizes allocate nothing)."""
    kwargs = config["architecture_kwargs"]
    try:
        with safe_open(str(weights), framework="pt") as handle:
            names = list(handle.keys())
            shapes = {name: tuple(handle.get_slice(name).get_shape()) for name in names}
    except (SafetensorError, OSError) as exc:
        raise StoreFormatError(f"cannot read {weights}: {exc}") from exc
    try:
        with torch.device("meta"):
            probe = build_architecture(config["architecture"], **kwargs)
    except (FewShotError, TypeError, ValueError) as exc:
        raise StoreFormatError(
            f"{weights.parent / CONFIG_NAME}: cannot build the network: {exc}"
        ) from exc
    except Exception:  # builders that read their own files cannot run on meta: shapes fixed
        probe = None
    if probe is not None:
        wanted = {name: tuple(value.shape) for name, value in probe.state_dict().items()}
        if wanted != shapes:
            raise StoreFormatError(
                f"{weights} does not fit the network its encoder.json describes "
                f"({len(shapes)} tensors against {len(wanted)} expected)"
            )
    return build_architecture(config["architecture"], **kwargs)


def load_full(folder: Path, config: dict[str, Any], **options: Any) -> TorchEncoder:
    """The encoder of a checked full checkpoint (format 1) in ``folder``."""
    module = build_checked(config, folder / WEIGHTS_NAME)
    try:
        load_model(module, str(folder / WEIGHTS_NAME), strict=True, device="cpu")
    except (SafetensorError, RuntimeError) as exc:
        raise StoreFormatError(f"cannot load weights from {folder / WEIGHTS_NAME}: {exc}") from exc
    return wrap_network(module, config, folder, options)


def wrap_network(
    module: nn.Module, config: dict[str, Any], folder: Path, options: dict[str, Any]
) -> TorchEncoder:
    """``module`` as the encoder ``config`` describes (text, image or tensor inputs)."""
    preprocess_spec = config["preprocess"]
    spec = dict(config.get("spec") or {})
    common = dict(
        dim=config["dim"],
        spec={**spec, "checkpoint": str(folder.resolve())},
        architecture=config["architecture"],
        architecture_kwargs=config["architecture_kwargs"],
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
        try:
            preprocess = ImagePreprocess.from_dict(fields)
        except (TypeError, ValueError) as exc:
            raise StoreFormatError(f"{folder / CONFIG_NAME}: bad preprocessing: {exc}") from exc
        return TorchEncoder(module, preprocess, **common)
    if kind == "tensor":
        from fewshot.encoders.module import stack_tensors

        return TorchEncoder(module, stack_tensors, **common)
    raise StoreFormatError(f"{folder / CONFIG_NAME}: unknown preprocessing kind {kind!r}")


__all__ = ["is_checkpoint", "load_full", "read_config", "write_full_files"]
