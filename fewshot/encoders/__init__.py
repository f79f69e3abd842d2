"""Encoders: frozen pre-trained networks with their own preprocessing, resolved by name or path.

Modules: ``base`` (the interface), ``preprocess`` (images → tensors), ``image``, ``text``,
``torchvision_backbone``, ``backbones`` (Conv-4, ResNet-12), ``omniglot``, ``projected``,
``module`` (wrap any ``nn.Module``), ``architectures`` (builders by name), ``checkpoint``
(save / load without pickle) and ``resolve`` (``load_encoder``).
"""

from fewshot.encoders.architectures import build_architecture, register_architecture
from fewshot.encoders.base import Encoder, TorchEncoder
from fewshot.encoders.checkpoint import (
    is_checkpoint,
    load_checkpoint,
    save_checkpoint,
    write_checkpoint_files,
)
from fewshot.encoders.module import wrap_module
from fewshot.encoders.preprocess import ImagePreprocess
from fewshot.encoders.resolve import SHIPPED_CHECKPOINTS, known_names, load_encoder

__all__ = [
    "SHIPPED_CHECKPOINTS",
    "Encoder",
    "ImagePreprocess",
    "TorchEncoder",
    "build_architecture",
    "is_checkpoint",
    "known_names",
    "load_checkpoint",
    "load_encoder",
    "register_architecture",
    "save_checkpoint",
    "wrap_module",
    "write_checkpoint_files",
]
