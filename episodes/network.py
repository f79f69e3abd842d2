"""The network a training run trains: built from the config, run on a batch, saved as an encoder.

``build_model`` makes a fresh Conv-4 / ResNet-12 for one-channel images, or starts from a
trained encoder (``episodes.transfer``); ``embed`` maps images (B, 1, S, S) to embeddings
(B, d); ``save_encoder`` writes the network as a ``fewshot.load_encoder`` checkpoint folder.
"""

from __future__ import annotations

import copy
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from episodes.config import TrainConfig
from episodes.transfer import add_projection, freeze_stages, initial_backbone
from fewshot.encoders import save_checkpoint, wrap_module
from fewshot.encoders.backbones import build_backbone, network_stages
from fewshot.encoders.omniglot import omniglot_preprocess

CONV_SIZE = 28  # the image side of Conv-4 / ResNet-12 runs that do not name one


def build_model(
    config: TrainConfig,
) -> tuple[torch.nn.Module, str, dict[str, Any], list[torch.nn.Module]]:
    """The network to train: (module, architecture name, its kwargs, its frozen stages)."""
    if config.init:
        model, architecture, kwargs = initial_backbone(config.init, config.image_size or CONV_SIZE)
    else:
        architecture, kwargs = config.backbone, dict(config.backbone_kwargs)
        if architecture == "conv4":
            kwargs = {"in_channels": 1, "hidden": 64, "image_size": config.image_size or CONV_SIZE}
            kwargs |= dict(config.backbone_kwargs)
        else:
            kwargs = {"in_channels": 1, **kwargs}
        model = build_backbone(architecture, **kwargs)
    freeze = config.freeze_stages
    if config.projection:  # TrainConfig refuses projection with freeze_stages
        freeze = len(network_stages(model))
        model, architecture, kwargs = add_projection(model, architecture, kwargs, config.projection)
    return model, architecture, kwargs, freeze_stages(model, freeze)


def embed(model: torch.nn.Module, x: torch.Tensor, config: TrainConfig) -> torch.Tensor:
    """Embeddings (B, d) of images x (B, 1, S, S) in float32; bf16 autocast on CUDA when
    ``config.amp``, channels-last memory layout when ``config.channels_last``."""
    if config.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    if config.amp and x.is_cuda:
        with torch.autocast("cuda", dtype=torch.bfloat16):
            return model(x).float()
    return model(x)


def save_encoder(
    model: torch.nn.Module,
    architecture: str,
    kwargs: dict[str, Any],
    config: TrainConfig,
    folder: Path,
    info: dict[str, Any],
) -> None:
    """``model`` (a copy, on the CPU, float32) as a ``fewshot.load_encoder`` checkpoint folder;
    its ``extra`` holds ``training`` (the config) and ``info`` (e.g. episode, val_acc)."""
    module = copy.deepcopy(model).cpu().float().eval()
    module = module.to(memory_format=torch.contiguous_format)
    encoder = wrap_module(
        module,
        preprocess=omniglot_preprocess(config.image_size or CONV_SIZE),
        architecture=architecture,
        architecture_kwargs=kwargs,
        name=f"omniglot-{architecture}",
    )
    save_checkpoint(encoder, folder, extra={"training": asdict(config), **info})
