"""The encoder interface: raw inputs in, float32 embeddings (N×dim) out, with the network frozen."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from fewshot.errors import InputError
from fewshot.progress import progress_bar, progress_enabled
from fewshot.runtime import resolve_device

Batch = torch.Tensor | Mapping[str, torch.Tensor]


def as_input_list(inputs: Any, what: str = "inputs") -> list[Any]:
    """Turn a batch (list, tuple, array, tensor, generator) into a list of single inputs."""
    if isinstance(inputs, (str, bytes)):
        raise InputError(
            f"`{what}` must be a batch (a list) of inputs, not one string; wrap it: [{what}]"
        )
    if isinstance(inputs, (np.ndarray, torch.Tensor)):
        if inputs.ndim == 0:
            raise InputError(f"`{what}` must be a batch of inputs, got a scalar")
        return list(inputs)
    try:
        return list(inputs)
    except TypeError as exc:
        raise InputError(
            f"`{what}` must be a sequence of inputs, got {type(inputs).__name__}"
        ) from exc


class Encoder(ABC):
    """Maps a batch of raw inputs to an ``N×dim`` float32 array; frozen (eval mode, no grad).

    ``spec`` is a JSON-serialisable dict from which ``fewshot.load_encoder`` rebuilds an
    equivalent encoder (used by ``FewShotClassifier.save``).
    """

    dim: int

    @property
    @abstractmethod
    def spec(self) -> dict[str, Any]:
        """JSON description that ``fewshot.load_encoder(spec)`` turns back into this encoder."""

    @abstractmethod
    def embed(
        self, inputs: Sequence[Any], *, batch_size: int | None = None, progress: bool | None = None
    ) -> np.ndarray:
        """Embed ``inputs`` (N items) into a float32, C-contiguous ``N×dim`` array."""

    def __call__(self, inputs: Sequence[Any], **kwargs: Any) -> np.ndarray:
        return self.embed(inputs, **kwargs)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(dim={self.dim}, spec={self.spec})"


class TorchEncoder(Encoder):
    """An encoder made of a ``preprocess`` step (list of inputs → tensor batch) and a torch module.

    ``forward`` is differentiable (for fine-tuning and episodic training); ``embed`` runs it in
    eval + inference mode, in chunks of ``batch_size``, with a progress bar for long inputs.
    """

    def __init__(
        self,
        module: nn.Module,
        preprocess: Callable[[list[Any]], Batch],
        *,
        dim: int,
        spec: dict[str, Any],
        batch_size: int = 64,
        device: str | torch.device | None = "cpu",
        channels_last: bool = False,
        architecture: str | None = None,
        architecture_kwargs: dict[str, Any] | None = None,
        preprocess_spec: dict[str, Any] | None = None,
        base: dict[str, Any] | None = None,
    ) -> None:
        if batch_size < 1:
            raise InputError(f"batch_size must be >= 1, got {batch_size}")
        self.module = module
        self.preprocess = preprocess
        self.dim = int(dim)
        self._spec = dict(spec)
        self.batch_size = int(batch_size)
        self.channels_last = channels_last
        # How a checkpoint rebuilds this encoder: a registered network name, its keyword
        # arguments, and the preprocessing as JSON (see fewshot.encoders.checkpoint).
        self.architecture = architecture
        self.architecture_kwargs = dict(architecture_kwargs or {})
        self.preprocess_spec = dict(preprocess_spec) if preprocess_spec is not None else None
        # The pre-trained network this one starts from, as a spec load_encoder rebuilds (None:
        # no such base), and a SHA-256 per tensor of that base, recorded before anything was
        # trained: a checkpoint then stores only the tensors that differ from it
        # (fewshot.encoders.partial).
        self.base = dict(base) if base is not None else None
        self.base_fingerprints: dict[str, str] | None = None
        self.device = resolve_device(device)
        self.module.to(self.device)
        if channels_last:
            self.module.to(memory_format=torch.channels_last)
        self.module.eval()
        for parameter in self.module.parameters():
            parameter.requires_grad_(False)

    @property
    def spec(self) -> dict[str, Any]:
        return dict(self._spec)

    @spec.setter
    def spec(self, value: dict[str, Any]) -> None:
        """Replace the JSON description (a copy is kept): e.g. after fine-tuning, so that a save
        writes the weights instead of a name that would rebuild the untrained network."""
        if not isinstance(value, dict):
            raise InputError(f"an encoder spec must be a dict, got {type(value).__name__}")
        self._spec = dict(value)

    def to(self, device: str | torch.device) -> TorchEncoder:
        """Move the network to ``device`` and return self."""
        self.device = resolve_device(device)
        self.module.to(self.device)
        return self

    def move_batch(self, batch: Batch) -> Batch:
        """Put a preprocessed batch on this encoder's device (and memory format)."""
        if isinstance(batch, Mapping):
            return {
                key: value.to(self.device) if isinstance(value, torch.Tensor) else value
                for key, value in batch.items()
            }
        batch = batch.to(self.device)
        if self.channels_last and batch.ndim == 4:
            batch = batch.contiguous(memory_format=torch.channels_last)
        return batch

    def forward(self, batch: Batch) -> torch.Tensor:
        """Differentiable embedding of a preprocessed batch: ``B×dim`` tensor."""
        return self.module(self.move_batch(batch))

    def embed(
        self, inputs: Sequence[Any], *, batch_size: int | None = None, progress: bool | None = None
    ) -> np.ndarray:
        items = as_input_list(inputs)
        size = batch_size or self.batch_size
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = np.empty((len(items), self.dim), dtype=np.float32)
        n_chunks = math.ceil(len(items) / size)
        show = progress if progress is not None else (n_chunks > 8 and progress_enabled())
        was_training = self.module.training
        self.module.eval()
        try:
            with torch.inference_mode():
                for i in progress_bar(
                    range(0, len(items), size), desc="embed", total=n_chunks, enabled=show
                ):
                    batch = self.preprocess(items[i : i + size])
                    out[i : i + size] = self.forward(batch).float().cpu().numpy()
        finally:
            self.module.train(was_training)
        return out
