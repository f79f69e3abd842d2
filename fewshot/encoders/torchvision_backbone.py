"""torchvision classification backbones as frozen feature extractors (penultimate features)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
import torchvision
from torch import nn

from fewshot.encoders.base import TorchEncoder
from fewshot.encoders.preprocess import ImagePreprocess
from fewshot.errors import InputError

_HEAD_ATTRIBUTES = ("fc", "classifier", "heads", "head")


def available_backbones() -> list[str]:
    """Names of torchvision's image-classification models."""
    return sorted(torchvision.models.list_models(module=torchvision.models))


def _strip_head(model: nn.Module, arch: str) -> nn.Module:
    for attribute in _HEAD_ATTRIBUTES:
        if isinstance(getattr(model, attribute, None), nn.Module):
            setattr(model, attribute, nn.Identity())
            return model
    raise InputError(f"torchvision model {arch!r} has no classifier head this library can remove")


def build_torchvision(arch: str) -> nn.Module:
    """``arch`` without weights and without its classifier: ``B×3×H×W`` → ``B×d``."""
    if arch not in available_backbones():
        raise InputError(
            f"unknown torchvision backbone {arch!r}; choose from torchvision.models.list_models()"
        )
    return _strip_head(torchvision.models.get_model(arch, weights=None), arch)


def read_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Weights from a ``.safetensors`` file or a torch file, loaded without unpickling objects."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"weights file not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise InputError(f"cannot read weights from {path}: {exc}") from exc
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise InputError(f"{path} does not hold a state dict")
    return state


def cached_weights_path(arch: str) -> Path | None:
    """Where torchvision's weights API caches ``arch``'s default weights, if it has any."""
    try:
        weights = torchvision.models.get_model_weights(arch).DEFAULT
    except (ValueError, KeyError):
        return None
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(weights.url)


def _preprocess_for(arch: str) -> ImagePreprocess:
    try:
        transforms = torchvision.models.get_model_weights(arch).DEFAULT.transforms()
        return ImagePreprocess(
            size=int(transforms.crop_size[0]),
            resize=int(transforms.resize_size[0]),
            mean=tuple(transforms.mean),
            std=tuple(transforms.std),
        )
    except (ValueError, KeyError, AttributeError):
        return ImagePreprocess()


def torchvision_encoder(
    arch: str, weights: str | os.PathLike[str] | None = None, **options: Any
) -> TorchEncoder:
    """A frozen torchvision backbone; weights from ``weights`` (a file), else torchvision's cache.

    With neither, torchvision downloads its default weights (this needs a network connection).
    """
    model = (
        torchvision.models.get_model(arch, weights=None) if arch in available_backbones() else None
    )
    if model is None:
        raise InputError(
            f"unknown torchvision backbone {arch!r}; choose from torchvision.models.list_models()"
        )
    source = Path(weights) if weights is not None else cached_weights_path(arch)
    if source is not None and source.is_file():
        state = read_state_dict(source)
    elif weights is not None:
        raise InputError(f"weights file not found: {weights}")
    else:
        try:
            state = torchvision.models.get_model_weights(arch).DEFAULT.get_state_dict(progress=True)
        except Exception as exc:  # no network, or no weights published for arch
            raise InputError(
                f"no weights for torchvision backbone {arch!r}: not in torchvision's cache "
                f"({source}) and the download failed ({exc}); pass weights=PATH to a state dict"
            ) from exc
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise InputError(f"weights from {source} do not fit {arch!r}: {exc}") from exc
    module = _strip_head(model, arch)
    preprocess = _preprocess_for(arch)
    module.eval()
    with torch.inference_mode():
        dim = int(module(torch.zeros(1, 3, preprocess.size, preprocess.size)).shape[1])
    options.setdefault("channels_last", True)
    return TorchEncoder(
        module,
        preprocess,
        dim=dim,
        spec={
            "name": "torchvision",
            "arch": arch,
            "weights": str(source.resolve()) if source else None,
        },
        architecture="torchvision",
        architecture_kwargs={"arch": arch},
        preprocess_spec={"kind": "image", **preprocess.to_dict()},
        **options,
    )
