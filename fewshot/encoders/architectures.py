"""Network builders by name, so a checkpoint rebuilds its network from JSON, never from pickle.

Built-in architectures are one lazy table of ``"module:factory"`` strings, imported only when a
checkpoint names them; users add their own with ``register_architecture``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from torch import nn

from fewshot.errors import InputError

BUILTIN: dict[str, str] = {
    "conv4": "fewshot.encoders.backbones:Conv4",
    "resnet12": "fewshot.encoders.backbones:ResNet12",
    "efficientnet-lite0": "fewshot.encoders.image:build_efficientnet_lite0",
    "minilm": "fewshot.encoders.text:build_minilm",
    "torchvision": "fewshot.encoders.torchvision_backbone:build_torchvision",
    "projected": "fewshot.encoders.projected:Projected",
    "mpnet": "fewshot.encoders.mpnet:build_mpnet",
    "sentence-transformers": "fewshot.encoders.pretrained_text:build_sentence_transformer",
}
_USER: dict[str, Callable[..., nn.Module]] = {}


def register_architecture(name: str, factory: Callable[..., nn.Module]) -> None:
    """Make ``factory(**kwargs) -> nn.Module`` buildable by ``name`` from a saved checkpoint."""
    if not isinstance(name, str) or not name:
        raise InputError("register_architecture: `name` must be a non-empty string")
    if not callable(factory):
        raise InputError(f"register_architecture: `factory` for {name!r} must be callable")
    _USER[name] = factory


def build_architecture(name: str, **kwargs: Any) -> nn.Module:
    """Build the network registered as ``name`` with keyword arguments from a checkpoint."""
    if name in _USER:
        return _USER[name](**kwargs)
    if name not in BUILTIN:
        known = ", ".join(sorted({*BUILTIN, *_USER}))
        raise InputError(
            f"unknown architecture {name!r} (known: {known}); call "
            "fewshot.encoders.register_architecture(name, factory) before loading"
        )
    module, _, attribute = BUILTIN[name].partition(":")
    return getattr(importlib.import_module(module), attribute)(**kwargs)
