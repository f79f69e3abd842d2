"""torchvision classification backbones as frozen feature extractors (penultimate features).

The classifier is removed: ``fc`` / ``heads`` / ``head`` become the identity, and so does a
``classifier`` — except VGG's, whose last ``Linear`` alone goes, so VGG gives its 4096-d fc7
features rather than 25,088-d conv features. Inception v3 takes 299 px inputs resized from 342
and, as torchvision's pre-trained weights expect, maps ImageNet-normalised input to its own
``(x − 0.5) / 0.5`` scale inside the network (``transform_input``); its auxiliary classifier
is dropped.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
import torchvision
from torch import nn

from fewshot.durable import sha256_file
from fewshot.encoders.base import TorchEncoder
from fewshot.encoders.lineage import mark_base
from fewshot.encoders.preprocess import ImagePreprocess
from fewshot.errors import InputError

_HEAD_ATTRIBUTES = ("fc", "classifier", "heads", "head")


def available_backbones() -> list[str]:
    """Names of torchvision's image-classification models."""
    return sorted(torchvision.models.list_models(module=torchvision.models))


def _strip_head(model: nn.Module, arch: str) -> nn.Module:
    if arch.startswith("vgg"):
        classifier: Any = model.classifier
        classifier[-1] = nn.Identity()
        return model
    if arch == "inception_v3":
        inception: Any = model  # nn.Module's attribute typing forbids None and bool
        inception.AuxLogits, inception.aux_logits = None, False
    for attribute in _HEAD_ATTRIBUTES:
        if isinstance(getattr(model, attribute, None), nn.Module):
            setattr(model, attribute, nn.Identity())
            return model
    raise InputError(f"torchvision model {arch!r} has no classifier head this library can remove")


def _unheaded(arch: str, transform_input: bool | None, aux: bool) -> nn.Module:
    """``arch`` with random weights, classifier still on (so a state dict loads into it)."""
    if arch not in available_backbones():
        raise InputError(
            f"unknown torchvision backbone {arch!r}; choose from torchvision.models.list_models()"
        )
    kwargs: dict[str, Any] = {}
    if arch == "inception_v3":
        kwargs = {"aux_logits": aux, "init_weights": False, "transform_input": transform_input}
        kwargs["transform_input"] = True if transform_input is None else transform_input
    elif transform_input is not None:
        raise InputError(f"transform_input applies to inception_v3 only, not {arch!r}")
    return torchvision.models.get_model(arch, weights=None, **kwargs)


def build_torchvision(arch: str, transform_input: bool | None = None) -> nn.Module:
    """``arch`` without weights and without its classifier: ``B×3×H×W`` → ``B×d``."""
    return _strip_head(_unheaded(arch, transform_input, aux=False), arch)


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
    arch: str,
    weights: str | os.PathLike[str] | None = None,
    *,
    transform_input: bool | None = None,
    weights_sha256: str | None = None,
    **options: Any,
) -> TorchEncoder:
    """A frozen torchvision backbone; weights from ``weights`` (a ``.safetensors`` file or a
    torch state dict, read with ``weights_only``), else torchvision's cache.

    With neither, torchvision downloads its default weights (this needs a network connection).
    ``transform_input`` (Inception v3 only; default True, as for torchvision's weights): the
    network rescales ImageNet-normalised input to ``(x − 0.5) / 0.5`` itself.
    ``weights_sha256``: the file must have this SHA-256 (checked before it is read).
    """
    if arch not in available_backbones():
        raise InputError(
            f"unknown torchvision backbone {arch!r}; choose from torchvision.models.list_models()"
        )
    source = Path(weights) if weights is not None else cached_weights_path(arch)
    digest = sha256_file(source) if source is not None and source.is_file() else None
    if weights_sha256 is not None and digest != weights_sha256:
        found = f"has SHA-256 {digest[:12]}…" if digest else "is missing"
        raise InputError(
            f"the {arch} weights file {source} {found}, not the {weights_sha256[:12]}… this "
            "encoder was built from: pass weights=PATH naming that file"
        )
    if source is not None and digest is not None:
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
    aux = any(key.startswith("AuxLogits.") for key in state)
    model = _unheaded(arch, transform_input, aux=aux)
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
    spec: dict[str, Any] = {"name": "torchvision", "arch": arch, "weights": None}
    if source is not None and digest is not None:
        spec.update(weights=str(source.resolve()), weights_sha256=digest)
    arch_kwargs: dict[str, Any] = {"arch": arch}
    if arch == "inception_v3":
        spec["transform_input"] = arch_kwargs["transform_input"] = module.transform_input
    encoder = TorchEncoder(
        module,
        preprocess,
        dim=dim,
        spec=spec,
        base=spec,
        architecture="torchvision",
        architecture_kwargs=arch_kwargs,
        preprocess_spec={"kind": "image", **preprocess.to_dict()},
        **options,
    )
    mark_base(encoder)  # pristine now: a checkpoint later never re-reads the weights to compare
    return encoder
