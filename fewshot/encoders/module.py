"""Wrap any ``torch.nn.Module`` as a frozen encoder."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from fewshot.encoders.base import Batch, TorchEncoder
from fewshot.encoders.preprocess import ImagePreprocess
from fewshot.errors import InputError


def stack_tensors(items: list[Any]) -> torch.Tensor:
    """Stack same-shaped arrays or tensors into one float32 batch ``B×...``."""
    try:
        arrays = [
            item.detach().cpu()
            if isinstance(item, torch.Tensor)
            else torch.as_tensor(np.asarray(item))
            for item in items
        ]
        batch = torch.stack(arrays).float()
    except (RuntimeError, TypeError, ValueError) as exc:
        raise InputError(
            f"cannot stack inputs into one tensor batch ({exc}); inputs must be arrays or "
            "tensors of one shape, or pass preprocess= to fewshot.wrap_module"
        ) from exc
    if not torch.isfinite(batch).all():
        raise InputError("inputs contain NaN or infinite values")
    return batch


def wrap_module(
    module: nn.Module,
    *,
    preprocess: Callable[[list[Any]], Batch] | ImagePreprocess | None = None,
    dim: int | None = None,
    architecture: str | None = None,
    architecture_kwargs: dict[str, Any] | None = None,
    name: str = "module",
    **options: Any,
) -> TorchEncoder:
    """Use ``module`` (``B×... → B×d``) as a frozen encoder.

    ``preprocess`` turns a list of raw inputs into a batch: an ``ImagePreprocess`` for images
    (saveable), any callable, or by default stacking of same-shaped arrays/tensors. ``dim`` is
    probed with one dummy image when preprocess is an ``ImagePreprocess`` and dim is not given.
    Pass ``architecture`` (registered with ``register_architecture``) to make it saveable.
    """
    if not isinstance(module, nn.Module):
        raise InputError(f"wrap_module needs a torch.nn.Module, got {type(module).__name__}")
    preprocess_spec: dict[str, Any] | None
    if isinstance(preprocess, ImagePreprocess):
        preprocess_spec = {"kind": "image", **preprocess.to_dict()}
    elif preprocess is None:
        preprocess, preprocess_spec = stack_tensors, {"kind": "tensor"}
    else:
        preprocess_spec = None
    if dim is None:
        if not isinstance(preprocess, ImagePreprocess):
            raise InputError("wrap_module: pass dim= (the embedding size) for non-image inputs")
        channels = 3 if preprocess.mode == "RGB" else 1
        probe = torch.zeros(1, channels, preprocess.size, preprocess.size)
        was_training = module.training
        module.eval()
        with torch.inference_mode():
            dim = int(module(probe).reshape(1, -1).shape[1])
        module.train(was_training)
    return TorchEncoder(
        module,
        preprocess,
        dim=dim,
        spec={"name": name, "architecture": architecture},
        architecture=architecture,
        architecture_kwargs=architecture_kwargs,
        preprocess_spec=preprocess_spec,
        **options,
    )
