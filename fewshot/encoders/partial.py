"""Partial encoder checkpoints (format 2): the pre-trained base by name, plus only what changed.

A fine-tuned EfficientNet or MiniLM differs from its pre-trained base in a few blocks; storing
only those tensors makes its checkpoint megabytes, not the whole network. ``encoder.json``
records the base's spec (``fewshot.encoders.named``), the blocks the stored tensors belong to,
their dtype and ``base_sha256``: a digest over the fingerprints of every tensor *not* stored.

Loading rebuilds the base by name, checks that every stored tensor is a parameter or buffer of
the listed blocks with the same shape (read from the safetensors header, before allocating),
checks the digest of all other tensors (so the base is the one trained from, frozen blocks'
BatchNorm statistics included), then overlays the stored tensors. Nothing is unpickled.

Stored tensors are float16 where the per-family measurement in ``FP16_SAFE`` showed embeddings
agree with float32 (cosine ≥ 0.999 on real inputs, ``benchmarks/partial_checkpoints.py``), and
float32 otherwise; ``dtype=`` forces either.

Two things may differ from the base and are recorded in ``encoder.json``: the image
preprocessing (a network trained at 84 px keeps its 84-px ``preprocess``, applied on load), and
a linear ``projection`` on top of the frozen or fine-tuned base (``Projected.around``: the
head-only form of transfer), stored as the tensors ``projection.weight`` / ``projection.bias``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from fewshot.durable import sha256_file, write_json_atomic
from fewshot.encoders.base import TorchEncoder
from fewshot.encoders.blocks import block_tensors, network_blocks
from fewshot.encoders.checkpoint import (
    CONFIG_NAME,
    WEIGHTS_NAME,
    base_config,
    check_saveable,
)
from fewshot.encoders.lineage import changed_tensors, digest_of, fingerprints
from fewshot.encoders.named import rebuild_base
from fewshot.encoders.preprocess import ImagePreprocess
from fewshot.encoders.projected import Projected
from fewshot.errors import InputError, StoreFormatError

PARTIAL_VERSION = 2
DTYPES = ("auto", "float16", "float32")
#: Base names whose fine-tuned tensors kept embedding cosine ≥ 0.999 against float32 when
#: stored in float16 (benchmarks/results/partial_checkpoints.json); others stay float32.
FP16_SAFE = frozenset({"efficientnet-lite0", "minilm"})
PROJECTION = ("projection.weight", "projection.bias")
_SAFETENSORS_DTYPES = {"F16": torch.float16, "F32": torch.float32, "I64": torch.int64}


def choose_dtype(dtype: str, encoder: TorchEncoder) -> str:
    """``"float16"`` or ``"float32"``: ``auto`` picks float16 for the bases in ``FP16_SAFE``."""
    if dtype not in DTYPES:
        raise InputError(f"dtype must be one of {DTYPES}, got {dtype!r}")
    if dtype != "auto":
        return dtype
    name = (encoder.base or {}).get("name")
    return "float16" if name in FP16_SAFE else "float32"


def block_names(module: torch.nn.Module) -> dict[str, str]:
    """State-dict name → name of the block it belongs to (``fewshot.encoders.blocks``)."""
    blocks = tuple(network_blocks(module))
    return {name: block for block, names in block_tensors(module, blocks).items() for name in names}


def write_partial_files(
    encoder: TorchEncoder, folder: Path, extra: dict[str, Any] | None = None, dtype: str = "auto"
) -> None:
    """Write a partial checkpoint of ``encoder`` (which has a ``base``) into ``folder``.

    Without fingerprints recorded before training (``plan_blocks``, ``finetune``, ``adabn``
    record them), the base is rebuilt here to compare against.
    """
    check_saveable(encoder)
    if encoder.base is None:
        raise InputError("this encoder has no pre-trained base: save a full checkpoint")
    chosen = choose_dtype(dtype, encoder)
    network, projection = _split(encoder)
    base = encoder.base_fingerprints
    if base is None:
        base = fingerprints(rebuild_base(dict(encoder.base), device="cpu").module)
    state = network.state_dict()
    if set(state) != set(base):
        raise InputError(
            "this encoder's network no longer has the tensors of its pre-trained base; save a "
            "full checkpoint: save_checkpoint(encoder, directory, partial=False)"
        )
    changed = changed_tensors(network, base)
    owner = block_names(network)
    stray = [name for name in changed if name not in owner]
    if stray:
        raise InputError(
            f"{stray[0]} changed but belongs to no block of this network; save a full "
            "checkpoint: save_checkpoint(encoder, directory, partial=False)"
        )
    tensors = {name: _stored(state[name], chosen) for name in changed}
    blocks = sorted({owner[name] for name in changed}, key=list(owner.values()).index)
    config = base_config(encoder, PARTIAL_VERSION, extra)
    if projection is not None:
        tensors |= {name: _stored(value, chosen) for name, value in zip(
            PROJECTION, (projection.weight, projection.bias), strict=True)}  # fmt: skip
        kwargs = encoder.architecture_kwargs
        config.update(
            architecture=kwargs["base"], architecture_kwargs=kwargs["base_kwargs"],
            projection={"in_dim": projection.in_features, "out_dim": projection.out_features},
        )  # fmt: skip
        blocks.append("projection")
    save_file(tensors, str(folder / WEIGHTS_NAME))
    config.update(
        base=encoder.base,
        blocks=blocks,
        dtype=chosen,
        base_sha256=digest_of(base, [name for name in state if name not in tensors]),
        files={WEIGHTS_NAME: sha256_file(folder / WEIGHTS_NAME)},
    )
    write_json_atomic(folder / CONFIG_NAME, config)


def _split(encoder: TorchEncoder) -> tuple[torch.nn.Module, torch.nn.Linear | None]:
    """The pre-trained network and the projection on top of it (None when there is none)."""
    module = encoder.module
    if isinstance(module, Projected) and encoder.architecture == "projected":
        return module.base, module.projection
    return module, None


def _stored(tensor: torch.Tensor, dtype: str) -> torch.Tensor:
    value = tensor.detach().to("cpu").contiguous().clone()
    if dtype == "float16" and value.dtype == torch.float32:
        half = value.to(torch.float16)
        if torch.isfinite(half).all() or not torch.isfinite(value).all():
            return half
    return value


def load_partial(folder: Path, config: dict[str, Any], **options: Any) -> TorchEncoder:
    """Rebuild the base ``config`` names and overlay the checkpoint's tensors (all checked)."""
    path = folder / CONFIG_NAME
    encoder = rebuild_base(dict(config["base"]), **options)
    projection = config.get("projection")
    if projection is not None and not (
        isinstance(projection, dict)
        and all(isinstance(projection.get(k), int) and projection[k] > 0 for k in ("in_dim", "out_dim"))
        and projection["out_dim"] == config["dim"]
    ):  # fmt: skip
        raise StoreFormatError(f"{path}: field 'projection' must be {{in_dim, out_dim}} of 'dim'")
    rebuilt = {
        "architecture": encoder.architecture,
        "preprocess": encoder.preprocess_spec,
        "dim": encoder.dim,
    }
    stored_fields = {**config, "dim": projection["in_dim"] if projection else config["dim"]}
    for field, mine in rebuilt.items():
        if stored_fields[field] != mine and not _other_image_size(field, stored_fields, mine):
            raise StoreFormatError(
                f"{path}: field {field!r} does not match the rebuilt base {config['base']}"
            )
    state = encoder.module.state_dict()
    owner = block_names(encoder.module)
    listed = set(config["blocks"])
    weights = folder / WEIGHTS_NAME
    try:
        with safe_open(str(weights), framework="pt") as handle:
            names = list(handle.keys())
            slices = [handle.get_slice(name) for name in names]
            shapes = {n: (tuple(s.get_shape()), s.get_dtype()) for n, s in zip(names, slices)}
    except (SafetensorError, OSError) as exc:
        raise StoreFormatError(f"cannot read {weights}: {exc}") from exc
    for name, (shape, kind) in shapes.items():
        if projection is not None and name in PROJECTION and "projection" in listed:
            continue  # checked when the projection is built below
        if name not in state or owner.get(name) not in listed:
            raise StoreFormatError(f"{weights}: {name!r} is not a tensor of the listed blocks")
        target = state[name]
        if shape != tuple(target.shape) or _SAFETENSORS_DTYPES.get(kind) not in _allowed(target):
            raise StoreFormatError(
                f"{weights}: {name!r} is {kind}{list(shape)}, the base's is "
                f"{target.dtype}{list(target.shape)}"
            )
    base = fingerprints(encoder.module)
    if digest_of(base, [name for name in state if name not in shapes]) != config["base_sha256"]:
        raise StoreFormatError(
            f"{path}: the rebuilt base {config['base']} is not the network this checkpoint was "
            "trained from (its untouched tensors differ); install the same base weights"
        )
    try:
        stored = load_file(str(weights), device="cpu")
    except (SafetensorError, OSError) as exc:
        raise StoreFormatError(f"cannot load {weights}: {exc}") from exc
    with torch.no_grad():
        for name, value in stored.items():
            if name not in PROJECTION or projection is None:
                state[name].copy_(value.to(state[name].dtype))
    encoder.base = dict(config["base"])
    encoder.base_fingerprints = base
    if config["preprocess"] != encoder.preprocess_spec:  # an image size trained at
        fields = {k: v for k, v in config["preprocess"].items() if k != "kind"}
        encoder.preprocess = ImagePreprocess.from_dict(fields)
        encoder.preprocess_spec = dict(config["preprocess"])
    if projection is not None:
        _add_projection(encoder, projection, stored, weights)
    encoder.spec = {**dict(config.get("spec") or {}), "checkpoint": str(folder.resolve())}
    return encoder


def _other_image_size(field: str, config: dict[str, Any], mine: Any) -> bool:
    """Whether ``config`` differs from the rebuilt base only in an image preprocessing (the
    size a network was trained at), which the checkpoint then brings along."""
    theirs = config[field]
    if field != "preprocess" or not isinstance(theirs, dict) or not isinstance(mine, dict):
        return False
    if theirs.get("kind") != "image" or mine.get("kind") != "image":
        return False
    try:
        ImagePreprocess.from_dict({k: v for k, v in theirs.items() if k != "kind"})
    except (TypeError, ValueError):
        return False
    return True


def _add_projection(
    encoder: TorchEncoder, projection: dict[str, int], stored: dict[str, torch.Tensor],
    weights: Path,
) -> None:  # fmt: skip
    """Put the stored linear projection on top of ``encoder``'s rebuilt network."""
    linear = torch.nn.Linear(projection["in_dim"], projection["out_dim"])
    try:
        linear.load_state_dict(
            {"weight": stored[PROJECTION[0]].float(), "bias": stored[PROJECTION[1]].float()}
        )
    except (KeyError, RuntimeError) as exc:
        raise StoreFormatError(
            f"{weights}: the projection's tensors are missing or misshapen"
        ) from exc
    base_kwargs = {"base": encoder.architecture, "base_kwargs": encoder.architecture_kwargs}
    module = Projected.around(encoder.module, linear.to(encoder.device))
    module.eval().requires_grad_(False)
    encoder.module = module
    encoder.dim = projection["out_dim"]
    encoder.architecture = "projected"
    encoder.architecture_kwargs = {**base_kwargs, **projection}


def _allowed(target: torch.Tensor) -> tuple[torch.dtype, ...]:
    if target.dtype == torch.float32:
        return (torch.float16, torch.float32)
    return (target.dtype,)
