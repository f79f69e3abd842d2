"""Transfer learning for episodic training: start from a trained encoder, freeze its first stages
and fine-tune the rest, or freeze all of it and train only a linear projection on its features.

Stages are the backbone's blocks, input side first (``Conv4.stages()``, ``ResNet12.stages()``).
Frozen stages keep their weights *and* their BatchNorm statistics: they stay in eval mode while
the rest of the network trains.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import nn

from fewshot.encoders import Encoder, TorchEncoder, build_architecture, load_encoder
from fewshot.encoders.backbones import network_stages
from fewshot.encoders.projected import Projected
from fewshot.errors import InputError

TRANSFERABLE = ("conv4", "resnet12")  # Omniglot-input backbones (one channel, any size)


def initial_backbone(
    source: str | Encoder, image_size: int
) -> tuple[nn.Module, str, dict[str, Any]]:
    """The network of encoder ``source`` (shipped name, checkpoint folder, or the encoder
    itself), for ``image_size`` inputs; returns (module, architecture name, its kwargs)."""
    encoder = source if isinstance(source, Encoder) else load_encoder(source, device="cpu")
    source = source if isinstance(source, str) else str(encoder.spec.get("name", encoder.spec))
    architecture = getattr(encoder, "architecture", None)
    if not isinstance(encoder, TorchEncoder) or architecture not in TRANSFERABLE:
        raise InputError(
            f"init (--init) {source!r}: transfer starts from a {' or '.join(TRANSFERABLE)} "
            f"checkpoint (such as 'omniglot-conv4' or a `fewshot train` run's best/), got "
            f"architecture {architecture!r}; pass one of those, or train from scratch with "
            "--backbone"
        )
    kwargs = dict(encoder.architecture_kwargs)
    if kwargs.get("in_channels", 1) != 1:
        raise InputError(
            f"init (--init) {source!r} takes {kwargs['in_channels']}-channel images; Omniglot "
            "training feeds one channel, so start from a one-channel checkpoint"
        )
    if architecture == "conv4":
        kwargs["image_size"] = image_size  # conv weights do not depend on the input size
    module = build_architecture(architecture, **kwargs)
    module.load_state_dict(encoder.module.state_dict())
    return module, architecture, kwargs


def add_projection(
    module: nn.Module, architecture: str, kwargs: dict[str, Any], out_dim: int
) -> tuple[Projected, str, dict[str, Any]]:
    """``module`` followed by a fresh ``Linear(module.out_dim, out_dim)``, as a saveable network."""
    in_dim = getattr(module, "out_dim", None)
    if not isinstance(in_dim, int):
        raise InputError(
            f"--projection needs a backbone with a known out_dim, got {type(module).__name__}"
        )
    projected_kwargs: dict[str, Any] = {
        "base": architecture,
        "base_kwargs": kwargs,
        "in_dim": in_dim,
        "out_dim": int(out_dim),
    }
    projected = Projected(**projected_kwargs)
    projected.base.load_state_dict(module.state_dict())
    return projected, "projected", projected_kwargs


def freeze_stages(module: nn.Module, count: int) -> list[nn.Module]:
    """Stop gradients through the first ``count`` stages of ``module``; returns those stages."""
    stages = network_stages(module)
    if not 0 <= count <= len(stages):
        raise InputError(
            f"freeze_stages (--freeze-stages): cannot freeze {count} stages, this "
            f"{type(module).__name__} has {len(stages)}; pass 0..{len(stages)}"
        )
    frozen = stages[:count]
    for stage in frozen:
        stage.requires_grad_(False)
    return frozen


def set_training(module: nn.Module, training: bool, frozen: Sequence[nn.Module] = ()) -> None:
    """``module.train(training)``, with frozen stages kept in eval mode (fixed BN statistics)."""
    module.train(training)
    for stage in frozen:
        stage.eval()
