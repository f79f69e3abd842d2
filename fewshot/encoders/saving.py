"""Saving and loading encoder checkpoints: partial when the encoder has a pre-trained base,
full otherwise; loading reads both formats (``fewshot.encoders.checkpoint`` and ``.partial``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fewshot.durable import replace_directory
from fewshot.encoders.base import TorchEncoder
from fewshot.encoders.checkpoint import check_saveable, is_checkpoint, load_full, read_config
from fewshot.encoders.checkpoint import write_full_files as _write_full
from fewshot.encoders.partial import load_partial, write_partial_files


def write_checkpoint_files(
    encoder: TorchEncoder,
    folder: Path,
    extra: dict[str, Any] | None = None,
    *,
    partial: bool | None = None,
    dtype: str = "float32",
) -> None:
    """Write the checkpoint files of ``encoder`` into an existing ``folder``.

    ``partial`` (default: whenever the encoder has a pre-trained ``base``) stores the base's
    name and only the tensors that differ from it, in ``dtype``; ``partial=False`` stores
    every tensor. The default float32 is what a classifier's snapshot uses, so a loaded
    classifier answers exactly as the saved one did; ``save_checkpoint`` defaults to
    ``"auto"`` (float16 where measured safe, see ``fewshot.encoders.partial``).
    """
    check_saveable(encoder)
    if partial is None:
        partial = encoder.base is not None
    if partial:
        write_partial_files(encoder, folder, extra, dtype)
    else:
        _write_full(encoder, folder, extra)


def save_checkpoint(
    encoder: TorchEncoder,
    directory: str | os.PathLike[str],
    extra: dict[str, Any] | None = None,
    *,
    partial: bool | None = None,
    dtype: str = "auto",
) -> Path:
    """Save ``encoder`` so that ``fewshot.load_encoder(directory)`` rebuilds it; atomic.

    An existing ``directory`` is replaced only if it is empty or an encoder checkpoint.
    ``partial`` and ``dtype`` as in ``write_checkpoint_files``, except that ``dtype="auto"``
    (float16 for the bases in ``fewshot.encoders.partial.FP16_SAFE``) is the default here.
    """
    return replace_directory(
        directory,
        lambda folder: write_checkpoint_files(encoder, folder, extra, partial=partial, dtype=dtype),
        owned=is_checkpoint,
    )


def load_checkpoint(directory: str | os.PathLike[str], **options: Any) -> TorchEncoder:
    """Rebuild an encoder from a checkpoint directory, full or partial (every file checked,
    nothing unpickled); ``options`` go to the encoder (``device``, ``batch_size``, and for a
    torchvision base ``weights=PATH``)."""
    folder = Path(directory)
    config = read_config(folder)
    if config["format_version"] >= 2:
        return load_partial(folder, config, **options)
    return load_full(folder, config, **options)


__all__ = ["load_checkpoint", "save_checkpoint", "write_checkpoint_files"]
