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
from fewshot.errors import InputError, StoreFormatError

PARTIAL_VERSION = 2
DTYPES = ("auto", "float16", "float32")
#: Base names whose fine-tuned tensors kept embedding cosine ≥ 0.999 against float32 when
#: stored in float16 (benchmarks/results/partial_checkpoints.json); others stay float32.
FP16_SAFE = frozenset({"efficientnet-lite0", "minilm"})
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
    base = encoder.base_fingerprints
    if base is None:
        base = fingerprints(rebuild_base(dict(encoder.base), device="cpu").module)
    state = encoder.module.state_dict()
    if set(state) != set(base):
        raise InputError(
            "this encoder's network no longer has the tensors of its pre-trained base; save a "
            "full checkpoint: save_checkpoint(encoder, directory, partial=False)"
        )
    changed = changed_tensors(encoder.module, base)
    owner = block_names(encoder.module)
    stray = [name for name in changed if name not in owner]
    if stray:
        raise InputError(
            f"{stray[0]} changed but belongs to no block of this network; save a full "
            "checkpoint: save_checkpoint(encoder, directory, partial=False)"
        )
    tensors = {name: _stored(state[name], chosen) for name in changed}
    save_file(tensors, str(folder / WEIGHTS_NAME))
    config = base_config(encoder, PARTIAL_VERSION, extra)
    config.update(
        base=encoder.base,
        blocks=sorted({owner[name] for name in changed}, key=list(owner.values()).index),
        dtype=chosen,
        base_sha256=digest_of(base, [name for name in state if name not in tensors]),
        files={WEIGHTS_NAME: sha256_file(folder / WEIGHTS_NAME)},
    )
    write_json_atomic(folder / CONFIG_NAME, config)


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
    rebuilt = {
        "architecture": encoder.architecture,
        "preprocess": encoder.preprocess_spec,
        "dim": encoder.dim,
    }
    for field, mine in rebuilt.items():
        if config[field] != mine:
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
            state[name].copy_(value.to(state[name].dtype))
    encoder.base = dict(config["base"])
    encoder.base_fingerprints = base
    encoder.spec = {**dict(config.get("spec") or {}), "checkpoint": str(folder.resolve())}
    return encoder


def _allowed(target: torch.Tensor) -> tuple[torch.dtype, ...]:
    if target.dtype == torch.float32:
        return (torch.float16, torch.float32)
    return (target.dtype,)
