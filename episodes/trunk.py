"""The network a run trains, whatever it starts from, split into frozen and trained blocks.

``build_trunk(config, device)`` makes one of two kinds, both trained through a ``BlockPlan``
(``fewshot.encoders.blocks``: frozen blocks stay in eval mode, BatchNorm statistics included):

* **Conv-4 / ResNet-12** for one-channel images: fresh (``backbone``) or from such a
  checkpoint (``init``), at ``image_size`` (default 28), ink 1 on paper 0. Saved whole, as
  ``episodes.network.save_encoder`` always did.
* **Any other encoder** ``fewshot.load_encoder`` reads (``efficientnet-lite0``, ``minilm``,
  torchvision models, sentence-transformers / transformers folders, checkpoints of those): its
  own preprocessing, at ``image_size`` when given. Saved as a partial checkpoint (the base by
  name plus the trained blocks, float16 where the encoders code measured it safe) that records
  the preprocessing, so ``fewshot evaluate --encoder RUN/best`` sees what training saw.

Which blocks learn: ``train_blocks`` (the last N, ``"all"``, or 0: a linear ``projection`` on
the frozen features, identity at the start when it keeps the dimension), or the older
``freeze_stages`` (the first N frozen) and ``projection`` (0 blocks, projected to DIM).
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from episodes.config import TrainConfig
from episodes.network import CONV_SIZE, build_model, save_encoder
from episodes.transfer import TRANSFERABLE, add_projection, freeze_stages, initial_backbone
from fewshot.encoders import (
    BlockPlan,
    ImagePreprocess,
    TorchEncoder,
    load_encoder,
    network_blocks,
    plan_blocks,
    save_checkpoint,
)
from fewshot.encoders.blocks import parse_train_blocks
from fewshot.encoders.omniglot import omniglot_preprocess
from fewshot.encoders.projected import Projected
from fewshot.errors import InputError


@dataclass
class Trunk:
    """The network being trained: ``module`` (trained in place), its ``plan``, an optional
    ``projection`` on top (no block trained), what the data must be (``kind``,
    ``preprocess``: an ``ImagePreprocess`` for images, the tokenizer for texts), the output
    ``dim``, and how it is saved (``encoder`` for pre-trained bases, ``legacy``
    ``(architecture, kwargs)`` for Conv-4 / ResNet-12)."""

    kind: str
    module: nn.Module
    plan: BlockPlan
    preprocess: Any
    dim: int
    image_size: int | None
    projection: nn.Linear | None = None
    encoder: TorchEncoder | None = None
    legacy: tuple[str, dict[str, Any]] | None = None

    @property
    def pretrained(self) -> bool:
        """Whether it starts from a pre-trained base (not Conv-4 / ResNet-12)."""
        return self.legacy is None

    def suffix(self, activation: Any) -> torch.Tensor:
        """Embeddings (B, dim) of prefix activations, gradients through the trained part."""
        z = self.plan.suffix(activation)
        return self.projection(z) if self.projection is not None else z

    def parameters(self) -> list[nn.Parameter]:
        """What the optimiser trains: the trained blocks' parameters and the projection's."""
        extra = list(self.projection.parameters()) if self.projection is not None else []
        return self.plan.parameters() + extra

    def train(self, mode: bool = True) -> None:
        """Trained blocks (and the projection) in ``mode``; frozen blocks stay in eval."""
        self.plan.train(mode)
        if self.projection is not None:
            self.projection.train(mode)

    def save(self, folder: Path, config: TrainConfig, info: dict[str, Any]) -> None:
        """Write the network as a ``fewshot.load_encoder`` checkpoint folder (replaced)."""
        if self.legacy is not None:
            architecture, kwargs = self.legacy
            save_encoder(self.module, architecture, kwargs, config, folder, info)
            return
        assert self.encoder is not None
        view = copy.copy(self.encoder)
        spec = {k: v for k, v in self.encoder.spec.items() if k != "checkpoint"}
        view.spec = {**spec, "trained": {"train_blocks": self.plan.train_blocks,
                                          "blocks": self.plan.trained_names}}  # fmt: skip
        if self.projection is not None:
            view.module = Projected.around(self.encoder.module, self.projection)
            view.dim = self.dim
            view.architecture = "projected"
            view.architecture_kwargs = {
                "base": self.encoder.architecture, "base_kwargs": self.encoder.architecture_kwargs,
                "in_dim": self.projection.in_features, "out_dim": self.dim,
            }  # fmt: skip
        save_checkpoint(view, folder, extra={"training": asdict(config), **info})

    def describe(self) -> dict[str, Any]:
        """JSON summary: the blocks, the trained ones, the projection, the input size."""
        return {**self.plan.describe(), "projection": self.projection is not None,
                "dim": self.dim, "image_size": self.image_size, "kind": self.kind}  # fmt: skip


def build_trunk(config: TrainConfig, device: torch.device) -> Trunk:
    """The network ``config`` asks for, on ``device`` (see the module docstring)."""
    start = load_encoder(config.init, device=str(device)) if config.init else None
    if start is None or getattr(start, "architecture", None) in TRANSFERABLE:
        trunk = _conv_trunk(config, start)
        trunk.module.to(device)
        if config.channels_last:
            trunk.module.to(memory_format=torch.channels_last)
        return trunk
    if not isinstance(start, TorchEncoder) or start.preprocess_spec is None:
        raise InputError(f"init (--init) {config.init!r} is not a trainable torch encoder")
    return _pretrained_trunk(config, start, device)


def _count(config: TrainConfig, module: nn.Module) -> int:
    """How many of the last blocks learn (``train_blocks``, else all but ``freeze_stages``)."""
    blocks = network_blocks(module)
    names = [block.name for block in blocks]
    if config.projection:
        return 0
    if config.train_blocks is not None:
        return parse_train_blocks(config.train_blocks, len(blocks), names)
    if not 0 <= config.freeze_stages <= len(blocks):
        raise InputError(
            f"freeze_stages (--freeze-stages): cannot freeze {config.freeze_stages} stages, this "
            f"{type(module).__name__} has {len(blocks)}; pass 0..{len(blocks)}"
        )
    return len(blocks) - config.freeze_stages


def _conv_trunk(config: TrainConfig, start: Any) -> Trunk:
    size = config.image_size or CONV_SIZE
    sized = replace(config, image_size=size, init=None, projection=None, freeze_stages=0)
    if start is not None:
        module, architecture, kwargs = initial_backbone(start, size)
    else:
        module, architecture, kwargs, _ = build_model(sized)
    count = _count(config, module)
    if config.projection or config.train_blocks == 0:
        out = config.projection or int(getattr(module, "out_dim", 0)) or None
        if out is None:
            raise InputError("train: --train-blocks 0 needs --projection DIM for this network")
        module, architecture, kwargs = add_projection(module, architecture, kwargs, out)
        count = 1
    elif config.freeze_stages:
        freeze_stages(module, config.freeze_stages)  # names the valid range
    plan = plan_blocks(module, count)
    dim = int(getattr(module, "out_dim", 0)) or _probe(module, size)
    return Trunk("image", module, plan, omniglot_preprocess(size), dim, size,
                 legacy=(architecture, kwargs))  # fmt: skip


def _probe(module: nn.Module, size: int) -> int:
    was = module.training
    module.eval()
    with torch.no_grad():
        dim = int(module(torch.zeros(1, 1, size, size)).shape[1])
    module.train(was)
    return dim


def _pretrained_trunk(config: TrainConfig, encoder: TorchEncoder, device: torch.device) -> Trunk:
    assert encoder.preprocess_spec is not None
    kind = encoder.preprocess_spec.get("kind")
    if kind not in ("image", "text"):
        raise InputError(
            f"init (--init) {config.init!r} reads {kind!r} inputs; training reads images or texts"
        )
    size = None
    if kind == "image":
        prep = encoder.preprocess
        if not isinstance(prep, ImagePreprocess):
            raise InputError(f"init (--init) {config.init!r} has no saveable image preprocessing")
        size = config.image_size or prep.size
        if config.image_size is not None:
            prep = ImagePreprocess(size, size, prep.mode, prep.mean, prep.std, prep.invert)
            encoder.preprocess = prep
            encoder.preprocess_spec = {"kind": "image", **prep.to_dict()}
    count = _count(config, encoder.module)
    plan = plan_blocks(encoder, count)
    projection = None
    dim = encoder.dim
    if config.projection or config.train_blocks == 0:
        dim = config.projection or encoder.dim
        projection = nn.Linear(encoder.dim, dim).to(device)
        if dim == encoder.dim:  # start at the frozen features themselves
            with torch.no_grad():
                projection.weight.copy_(torch.eye(dim))
                projection.bias.zero_()
    return Trunk(kind, encoder.module, plan, encoder.preprocess, dim, size, projection,
                 encoder=encoder)  # fmt: skip
