"""Pre-trained encoders by name or spec: what ``load_encoder`` builds from a string, and what a
partial checkpoint rebuilds as its base before overlaying its trained tensors.

A base spec is the ``spec`` of a pre-trained encoder: ``{"name": "efficientnet-lite0"}``,
``{"name": "minilm"}``, ``{"name": "mpnet"}``, a shipped checkpoint such as
``{"name": "omniglot-conv4"}``, ``{"name": "torchvision", "arch": ..., "weights": PATH,
"weights_sha256": ...}``, or ``{"name": "sentence-transformers", "path": FOLDER, "sha256": ...}``
(a hub model adds ``"hub": ID``). Files a spec names are checked against its SHA-256 before
they are read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fewshot.encoders.base import TorchEncoder
from fewshot.encoders.checkpoint import is_checkpoint, load_full, read_config
from fewshot.errors import InputError

ASSETS = Path(__file__).resolve().parent.parent / "assets"
ALIASES = {
    "efficientnet-lite0": "efficientnet-lite0",
    "efficientnet_lite0": "efficientnet-lite0",
    "minilm": "minilm",
    "all-minilm-l6-v2": "minilm",
    "sentence-transformers/all-minilm-l6-v2": "minilm",
    "mpnet": "mpnet",
    "all-mpnet-base-v2": "mpnet",
    "sentence-transformers/all-mpnet-base-v2": "mpnet",
}
# Encoders trained by this project and shipped inside the package as checkpoints.
SHIPPED_CHECKPOINTS = {
    name: ASSETS / name
    for name in ("omniglot-conv4", "efficientnet-lite0-omniglot", "minilm-intents")
}


def named(name: str, **options: Any) -> TorchEncoder:
    """A packaged pre-trained encoder by its canonical name (a value of ``ALIASES``)."""
    if name == "efficientnet-lite0":
        from fewshot.encoders.image import efficientnet_lite0

        return efficientnet_lite0(**options)
    if name == "mpnet":
        from fewshot.encoders.mpnet import mpnet

        return mpnet(**options)
    from fewshot.encoders.text import minilm

    return minilm(**options)


def shipped_full(key: str, **options: Any) -> TorchEncoder:
    """A shipped full (format 1) checkpoint by name, with that name as its spec and base."""
    folder = SHIPPED_CHECKPOINTS[key]
    if not is_checkpoint(folder):
        raise InputError(
            f"the shipped encoder {key!r} is missing from this installation ({folder})"
        )
    encoder = load_full(folder, read_config(folder), **options)
    encoder.spec = {"name": key}
    encoder.base = {"name": key}
    return encoder


def rebuild_base(spec: dict[str, Any], **options: Any) -> TorchEncoder:
    """The pre-trained encoder ``spec`` names (see the module docstring); ``weights=PATH``
    in ``options`` replaces a torchvision base's weights path (its SHA-256 must still match)."""
    name = spec.get("name")
    weights = options.pop("weights", None)
    if isinstance(name, str) and name.lower() in ALIASES:
        return named(ALIASES[name.lower()], **options)
    if isinstance(name, str) and name in SHIPPED_CHECKPOINTS:
        return shipped_full(name, **options)
    if name == "torchvision" and isinstance(spec.get("arch"), str):
        from fewshot.encoders.torchvision_backbone import torchvision_encoder

        extra = {"transform_input": spec["transform_input"]} if "transform_input" in spec else {}
        return torchvision_encoder(
            spec["arch"],
            weights=weights or spec.get("weights"),
            weights_sha256=spec.get("weights_sha256"),
            **extra,
            **options,
        )
    if name == "sentence-transformers" and isinstance(spec.get("path"), str):
        return _sentence_base(spec, **options)
    raise InputError(f"cannot rebuild a pre-trained encoder from spec {str(spec)[:200]}")


def _sentence_base(spec: dict[str, Any], **options: Any) -> TorchEncoder:
    from fewshot.encoders.pretrained_text import (
        folder_encoder,
        folder_sha256,
        hub_encoder,
        is_sentence_folder,
        is_transformers_folder,
    )

    folder = Path(spec["path"])
    expected = spec.get("sha256")
    model = folder.is_dir() and (is_sentence_folder(folder) or is_transformers_folder(folder))
    if model and (expected is None or folder_sha256(folder) == expected):
        return folder_encoder(folder, **options)
    if isinstance(spec.get("hub"), str):
        encoder = hub_encoder(spec["hub"], **options)
        if expected is None or encoder.spec.get("sha256") == expected:
            return encoder
    raise InputError(
        f"the text model folder {folder} this encoder was built from is missing or changed "
        f"(its files no longer have SHA-256 {str(expected)[:12]}…): put that model back at "
        "that path, or load the checkpoint where it exists"
    )
