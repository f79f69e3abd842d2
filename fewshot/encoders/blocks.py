"""The ordered trainable blocks of an encoder, and a plan that trains only the last N of them.

Transfer learning keeps a pre-trained network's early layers and trains its later ones.
``network_blocks(module)`` lists a network's blocks input side first, each with the modules
that own its parameters and buffers and a ``run`` that maps the activation before it to the
one after it; running every block in order equals the network's own forward:

===========================  ==========================================================  ======
family                       blocks (input side first)                                   count
===========================  ==========================================================  ======
EfficientNet-Lite0           stem, blocks.0 … blocks.15, head (+ average pooling)         18
sentence-transformers / BERT embeddings, layer.0 … layer.L−1 (+ pooling, normalising)    L + 1
torchvision ResNet           stem, layer1 … layer4 (+ average pooling)                    5
torchvision VGG              conv1 … conv5, fc6, fc7 (fc7 gives the 4096-d features)      7
torchvision Inception v3     stem, Mixed_5b … Mixed_7c (+ pooling)                        12
Conv-4 / ResNet-12           their ``stages()`` (+ flatten / pooling)                     4
Projected                    the base's blocks, projection                                base + 1
anything else                network (the whole module as one block)                      1
===========================  ==========================================================  ======

``plan_blocks(encoder, train_blocks)`` is what a training loop uses::

    plan = plan_blocks(encoder, 3)            # or "all", or 0 (only a head on top learns)
    optimizer = torch.optim.AdamW(plan.parameters(), lr=1e-4)
    cache = plan.prefix(batch)                # frozen blocks, no grad: cacheable if nothing
    plan.train()                              # random is applied below the trained blocks
    loss = objective(plan.suffix(cache))      # trained blocks → embeddings B×d
    ...
    plan.freeze()                             # every parameter frozen again, eval mode

Frozen blocks stay in eval mode — BatchNorm statistics and dropout included — whenever the
module is put in train mode (by ``plan.train()`` or by ``module.train()`` directly): their
``train`` method is pinned to eval until another plan is made for the network.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from fewshot.encoders.base import TorchEncoder
from fewshot.encoders.block_families import image_blocks
from fewshot.encoders.lineage import mark_base
from fewshot.encoders.text_blocks import transformer_blocks
from fewshot.errors import InputError


@dataclass(frozen=True)
class Block:
    """One trainable unit: ``name``, the ``modules`` owning its parameters and buffers, and
    ``run`` (activation before it → activation after it)."""

    name: str
    modules: tuple[nn.Module, ...]
    run: Callable[[Any], Any]


def network_blocks(module: nn.Module) -> list[Block]:
    """``module``'s blocks, input side first (see the table above); unknown networks are one
    block."""
    for family in (image_blocks, transformer_blocks):
        found = family(module)
        if found is not None:
            return [Block(name, tuple(modules), run) for name, modules, run in found]
    return [Block("network", (module,), module)]


def _stay_in_eval(self: nn.Module, mode: bool = True) -> nn.Module:
    """A frozen block's ``train``: whatever mode is asked for, it and its children stay in eval."""
    return nn.Module.train(self, False)


def _pin_eval(module: nn.Module) -> None:
    nn.Module.train(module, False)
    object.__setattr__(module, "train", types.MethodType(_stay_in_eval, module))


def unpin_eval(module: nn.Module) -> None:
    """Undo the eval pin of every frozen block of ``module`` (``train`` works normally again)."""
    for child in module.modules():
        vars(child).pop("train", None)


def parse_train_blocks(value: int | str, depth: int, names: list[str]) -> int:
    """``value`` (an int, a digit string, or ``"all"``) as a block count in ``0..depth``."""
    count: int | None = None
    if isinstance(value, str):
        text = value.strip().lower()
        count = depth if text == "all" else int(text) if text.isdigit() else None
    elif isinstance(value, int) and not isinstance(value, bool):
        count = value
    if count is None or not 0 <= count <= depth:
        raise InputError(
            f"this encoder has {depth} blocks ({names[0]} … {names[-1]}); --train-blocks "
            f"(train_blocks) must be 0..{depth} or all, got {value!r}"
        )
    return count


class BlockPlan:
    """Train the last ``train_blocks`` blocks of a network; the others are frozen.

    Arguments:
        module: the network (an encoder's ``module``).
        blocks: its blocks, input side first (``network_blocks``).
        train_blocks: how many of the last blocks learn (0: none; a head on top may).
        encoder: the encoder ``module`` belongs to; ``prefix`` then moves batches to its
            device and memory format.
    """

    def __init__(
        self,
        module: nn.Module,
        blocks: list[Block],
        train_blocks: int,
        encoder: TorchEncoder | None = None,
    ) -> None:
        self.module, self.blocks, self.encoder = module, tuple(blocks), encoder
        self.train_blocks = train_blocks
        cut = len(blocks) - train_blocks
        self.frozen, self.trained = self.blocks[:cut], self.blocks[cut:]
        self._tensors = block_tensors(module, self.blocks)
        unpin_eval(module)
        module.requires_grad_(False)
        for block in self.trained:
            for owner in block.modules:
                owner.requires_grad_(True)
        for block in self.frozen:
            for owner in block.modules:
                _pin_eval(owner)

    @property
    def names(self) -> list[str]:
        """Every block's name, input side first."""
        return [block.name for block in self.blocks]

    @property
    def trained_names(self) -> list[str]:
        """The names of the blocks that learn."""
        return [block.name for block in self.trained]

    def tensor_names(self, blocks: list[str] | None = None) -> list[str]:
        """State-dict names (of ``module``) of ``blocks`` (default: the trained ones)."""
        wanted = self.trained_names if blocks is None else blocks
        return [name for block in wanted for name in self._tensors[block]]

    def parameters(self) -> list[nn.Parameter]:
        """The trained blocks' parameters (each once): what an optimizer should get."""
        seen: dict[int, nn.Parameter] = {}
        for block in self.trained:
            for owner in block.modules:
                for parameter in owner.parameters():
                    seen.setdefault(id(parameter), parameter)
        return list(seen.values())

    def train(self, mode: bool = True) -> BlockPlan:
        """``module.train(mode)``; frozen blocks stay in eval mode either way."""
        self.module.train(mode)
        return self

    def eval(self) -> BlockPlan:
        return self.train(False)

    def freeze(self) -> BlockPlan:
        """End training: every parameter frozen and the whole module in eval mode."""
        self.module.requires_grad_(False)
        self.module.eval()
        return self

    def prefix(self, batch: Any) -> Any:
        """The frozen blocks on a preprocessed batch (``encoder.preprocess(items)``), without
        gradients: images ``B×3×H×W`` → e.g. ``B×C×h×w`` feature maps, texts (token dict) →
        ``TokenStates`` (``hidden`` ``B×T×H``). With no frozen block it returns the (moved)
        batch; with no trained block, the embeddings ``B×d``."""
        if self.encoder is not None:
            batch = self.encoder.move_batch(batch)
        with torch.no_grad():
            for block in self.frozen:
                batch = block.run(batch)
        return batch

    def suffix(self, activation: Any) -> torch.Tensor:
        """The trained blocks on what ``prefix`` returned (or rows of a cache of it):
        differentiable embeddings ``B×d``."""
        for block in self.trained:
            activation = block.run(activation)
        return activation

    def forward(self, batch: Any) -> torch.Tensor:
        """``suffix(prefix(batch))``: embeddings ``B×d``, gradients through the trained blocks."""
        return self.suffix(self.prefix(batch))

    __call__ = forward

    def describe(self) -> dict[str, Any]:
        """JSON summary: all blocks, the trained ones, and how many parameters learn."""
        return {
            "blocks": self.names,
            "train_blocks": self.train_blocks,
            "trained": self.trained_names,
            "trained_parameters": sum(p.numel() for p in self.parameters()),
        }


def block_tensors(module: nn.Module, blocks: tuple[Block, ...]) -> dict[str, list[str]]:
    """Block name → the state-dict names of its parameters and buffers."""
    where: dict[int, str] = {}
    for name, child in module.named_modules(remove_duplicate=False):
        where.setdefault(id(child), name)
    keys = list(module.state_dict(keep_vars=True))
    out: dict[str, list[str]] = {}
    for block in blocks:
        prefixes = [where[id(owner)] for owner in block.modules if id(owner) in where]
        out[block.name] = [
            key
            for key in keys
            if any(p == "" or key == p or key.startswith(p + ".") for p in prefixes)
        ]
    return out


def plan_blocks(source: TorchEncoder | nn.Module, train_blocks: int | str) -> BlockPlan:
    """A plan that trains the last ``train_blocks`` blocks (int, ``"all"``, or 0) of an
    encoder's network (or of a bare ``nn.Module``) and freezes the rest in place.

    For an encoder with a pre-trained base, the base's tensors are fingerprinted first, so a
    checkpoint saved afterwards stores only what changed (``fewshot.encoders.partial``).
    Raises ``InputError`` naming the valid range when ``train_blocks`` exceeds the depth.
    """
    encoder = source if isinstance(source, TorchEncoder) else None
    module = source.module if isinstance(source, TorchEncoder) else source
    if not isinstance(module, nn.Module):
        raise InputError(
            f"plan_blocks takes a torch encoder or an nn.Module, got {type(source).__name__}"
        )
    blocks = network_blocks(module)
    count = parse_train_blocks(train_blocks, len(blocks), [b.name for b in blocks])
    if encoder is not None:
        mark_base(encoder)
    return BlockPlan(module, blocks, count, encoder)


def trained_state(plan: BlockPlan) -> Mapping[str, torch.Tensor]:
    """The trained blocks' tensors by state-dict name (the module's own tensors, detached)."""
    state = plan.module.state_dict()
    return {name: state[name] for name in plan.tensor_names()}


__all__ = [
    "Block",
    "BlockPlan",
    "block_tensors",
    "network_blocks",
    "parse_train_blocks",
    "plan_blocks",
    "trained_state",
    "unpin_eval",
]
