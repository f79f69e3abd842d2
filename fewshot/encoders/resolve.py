"""``load_encoder``: an encoder from a name, a checkpoint folder, a saved spec, or a torch module."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from torch import nn

from fewshot.encoders.base import Encoder
from fewshot.encoders.checkpoint import is_checkpoint, load_checkpoint
from fewshot.encoders.module import wrap_module
from fewshot.errors import InputError

ASSETS = Path(__file__).resolve().parent.parent / "assets"
_ALIASES = {
    "efficientnet-lite0": "efficientnet-lite0",
    "efficientnet_lite0": "efficientnet-lite0",
    "minilm": "minilm",
    "all-minilm-l6-v2": "minilm",
    "sentence-transformers/all-minilm-l6-v2": "minilm",
}
# Encoders trained by this project and shipped inside the package as checkpoints.
SHIPPED_CHECKPOINTS = {"omniglot-conv4": ASSETS / "omniglot-conv4"}


def known_names() -> list[str]:
    """Names ``load_encoder`` accepts besides paths and torchvision backbones."""
    return sorted(set(_ALIASES.values()) | set(SHIPPED_CHECKPOINTS))


def load_encoder(
    source: str | os.PathLike[str] | dict[str, Any] | nn.Module, **options: Any
) -> Encoder:
    """Resolve an encoder from a name, a checkpoint directory, a saved spec, or a torch module.

    Names: ``efficientnet-lite0`` (images), ``minilm`` (text), ``omniglot-conv4`` (Omniglot
    characters), any torchvision classifier (``resnet18`` or ``torchvision:resnet18``; pass
    ``weights=PATH``, else torchvision's cache is used). ``options`` go to the encoder
    (``device``, ``batch_size``, ...).
    """
    if isinstance(source, nn.Module):
        return wrap_module(source, **options)
    if isinstance(source, dict):
        return _from_spec(source, **options)
    if not isinstance(source, (str, os.PathLike)):
        raise InputError(
            f"load_encoder takes a name, a path, a spec dict or a torch module, got {type(source).__name__}"
        )
    text = os.fspath(source)
    key = text.lower()
    if key in _ALIASES:
        return _named(_ALIASES[key], **options)
    if key in SHIPPED_CHECKPOINTS:
        folder = SHIPPED_CHECKPOINTS[key]
        if not is_checkpoint(folder):
            raise InputError(
                f"the shipped encoder {key!r} is missing from this installation ({folder})"
            )
        encoder = load_checkpoint(folder, **options)
        encoder._spec = {"name": key}
        return encoder
    if is_checkpoint(text):
        return load_checkpoint(text, **options)
    arch = text.split(":", 1)[1] if key.startswith("torchvision:") else text
    from fewshot.encoders.torchvision_backbone import available_backbones, torchvision_encoder

    if arch in available_backbones():
        return torchvision_encoder(arch, **options)
    if Path(text).exists():
        raise InputError(f"{text} is not an encoder checkpoint (no encoder.json inside)")
    raise InputError(
        f"unknown encoder {text!r}: use one of {', '.join(known_names())}, a torchvision model "
        "name, or a checkpoint directory saved by fewshot"
    )


def _named(name: str, **options: Any) -> Encoder:
    if name == "efficientnet-lite0":
        from fewshot.encoders.image import efficientnet_lite0

        return efficientnet_lite0(**options)
    from fewshot.encoders.text import minilm

    return minilm(**options)


def _from_spec(spec: dict[str, Any], **options: Any) -> Encoder:
    name = spec.get("name")
    if spec.get("checkpoint"):  # a trained copy: its name may be that of the shipped encoder
        return load_checkpoint(spec["checkpoint"], **options)
    if name == "torchvision":
        from fewshot.encoders.torchvision_backbone import torchvision_encoder

        return torchvision_encoder(spec["arch"], weights=spec.get("weights"), **options)
    if isinstance(name, str) and (name.lower() in _ALIASES or name.lower() in SHIPPED_CHECKPOINTS):
        return load_encoder(name, **options)
    raise InputError(f"cannot rebuild an encoder from spec {spec!r}")
