"""Encoders: frozen pre-trained networks with their own preprocessing, resolved by name or path.

Modules: ``base`` (the interface), ``preprocess`` (images → tensors), ``image``, ``text``,
``pretrained_text`` (sentence-transformers / transformers folders, hub ids), ``mpnet``,
``torchvision_backbone``, ``backbones`` (Conv-4, ResNet-12), ``omniglot``, ``projected``,
``module`` (wrap any ``nn.Module``), ``architectures`` (builders by name), ``named``
(pre-trained encoders by name or spec), ``blocks`` (a network's trainable blocks and
``plan_blocks``; families in ``block_families`` and ``text_blocks``), ``lineage`` (what changed
since the pre-trained base), ``checkpoint`` (the format, full checkpoints), ``partial``
(checkpoints of only what was trained), ``saving`` (save / load, either kind) and ``resolve``
(``load_encoder``).
"""

from fewshot.encoders.architectures import build_architecture, register_architecture
from fewshot.encoders.base import Encoder, TorchEncoder
from fewshot.encoders.blocks import Block, BlockPlan, network_blocks, plan_blocks
from fewshot.encoders.checkpoint import is_checkpoint
from fewshot.encoders.module import wrap_module
from fewshot.encoders.named import SHIPPED_CHECKPOINTS
from fewshot.encoders.preprocess import ImagePreprocess
from fewshot.encoders.resolve import known_names, load_encoder
from fewshot.encoders.saving import load_checkpoint, save_checkpoint, write_checkpoint_files
from fewshot.encoders.text_blocks import TokenStates

__all__ = [
    "SHIPPED_CHECKPOINTS",
    "Block",
    "BlockPlan",
    "Encoder",
    "ImagePreprocess",
    "TokenStates",
    "TorchEncoder",
    "build_architecture",
    "is_checkpoint",
    "known_names",
    "load_checkpoint",
    "load_encoder",
    "network_blocks",
    "plan_blocks",
    "register_architecture",
    "save_checkpoint",
    "wrap_module",
    "write_checkpoint_files",
]
