"""What an adapted encoder changed in its pre-trained base: per-tensor SHA-256 fingerprints.

An encoder built from a pre-trained network (``efficientnet-lite0``, ``minilm``, a torchvision
weights file, a sentence-transformers folder) carries ``encoder.base``, the spec that
rebuilds that network. ``mark_base`` fingerprints every tensor of the network before anything
trains it (``plan_blocks``, ``finetune``, ``adabn`` call it); comparing fingerprints later
names exactly the tensors that changed, so a checkpoint stores only those, and the digest of
all the others lets the loader check that it rebuilt the same base.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

import torch
from torch import nn

from fewshot.encoders.base import TorchEncoder


def tensor_fingerprint(tensor: torch.Tensor) -> str:
    """SHA-256 of a tensor's dtype, shape and bytes (on the CPU, contiguous)."""
    value = tensor.detach().to("cpu").contiguous()
    digest = hashlib.sha256(f"{value.dtype}:{tuple(value.shape)}:".encode())
    digest.update(value.view(-1).view(torch.uint8).numpy().tobytes() if value.numel() else b"")
    return digest.hexdigest()


def fingerprints(module: nn.Module) -> dict[str, str]:
    """State-dict name → ``tensor_fingerprint`` for every parameter and buffer of ``module``."""
    return {name: tensor_fingerprint(value) for name, value in module.state_dict().items()}


def mark_base(encoder: TorchEncoder) -> None:
    """Fingerprint ``encoder``'s network as its pre-trained base, once, before it is changed
    (a no-op for encoders without a base or already marked)."""
    if encoder.base is not None and encoder.base_fingerprints is None:
        encoder.base_fingerprints = fingerprints(encoder.module)


def changed_tensors(module: nn.Module, base: Mapping[str, str]) -> list[str]:
    """State-dict names of ``module`` whose tensors differ from the base's fingerprints (or
    that the base lacks), in state-dict order."""
    return [name for name, fp in fingerprints(module).items() if base.get(name) != fp]


def digest_of(base: Mapping[str, str], names: Iterable[str]) -> str:
    """One SHA-256 over the fingerprints of ``names`` (sorted): the untouched part of a base."""
    digest = hashlib.sha256()
    for name in sorted(names):
        digest.update(f"{name}\0{base[name]}\n".encode())
    return digest.hexdigest()
