"""A registry of network builders by name, so checkpoints rebuild networks without pickle or imports."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from fewshot.errors import InputError

_BUILDERS: dict[str, Callable[..., nn.Module]] = {}


def register_architecture(name: str, factory: Callable[..., nn.Module]) -> None:
    """Make ``factory(**kwargs) -> nn.Module`` buildable by ``name`` from a saved checkpoint."""
    if not isinstance(name, str) or not name:
        raise InputError("register_architecture: `name` must be a non-empty string")
    if not callable(factory):
        raise InputError(f"register_architecture: `factory` for {name!r} must be callable")
    _BUILDERS[name] = factory


def build_architecture(name: str, **kwargs: Any) -> nn.Module:
    """Build the network registered as ``name`` with keyword arguments from a checkpoint."""
    _ensure_builtin_architectures()
    if name not in _BUILDERS:
        known = ", ".join(sorted(_BUILDERS)) or "none"
        raise InputError(
            f"unknown architecture {name!r} (registered: {known}); call "
            "fewshot.encoders.register_architecture(name, factory) before loading"
        )
    return _BUILDERS[name](**kwargs)


def registered_architectures() -> list[str]:
    """Names that ``build_architecture`` accepts."""
    _ensure_builtin_architectures()
    return sorted(_BUILDERS)


def _ensure_builtin_architectures() -> None:
    # Importing the modules registers their networks; done lazily to keep import time low.
    from fewshot.encoders import (  # noqa: F401
        backbones,
        image,
        projected,
        text,
        torchvision_backbone,
    )
