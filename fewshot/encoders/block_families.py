"""Blocks of the image networks: EfficientNet-Lite, torchvision ResNet / VGG / Inception v3,
Conv-4, ResNet-12 and Projected.

Each family function returns ``None`` for a network it does not know, else a list of
``(name, modules, run)``: ``modules`` own the block's parameters and buffers, and running the
``run`` functions in order reproduces the network's forward exactly (the last one includes the
pooling or flattening that makes the ``B×d`` embedding). Activations between blocks are
feature maps ``B×C×H×W`` (VGG's fc6 and fc7 take and give ``B×4096`` vectors).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from fewshot.encoders.backbones import Conv4, ResNet12
from fewshot.encoders.image import PooledFeatures
from fewshot.encoders.projected import Projected

Found = list[tuple[str, list[nn.Module], Callable[[Any], Any]]]


def efficientnet_blocks(module: nn.Module) -> Found | None:
    """``PooledFeatures`` over an EfficientNet: stem, each MBConv block, head + average pool.

    Mirrors ``EfficientNet.extract_features``, drop-connect rate per block index included.
    224 px input: stem → B×32×112×112, blocks.15 → B×320×7×7, head → B×1280.
    """
    net = getattr(module, "network", None) if isinstance(module, PooledFeatures) else None
    if net is None or not hasattr(net, "_blocks") or not hasattr(net, "_conv_stem"):
        return None
    rate = net._global_params.drop_connect_rate
    count = len(net._blocks)
    found: Found = [
        ("stem", [net._conv_stem, net._bn0], lambda x: net._swish(net._bn0(net._conv_stem(x))))
    ]
    for index, block in enumerate(net._blocks):
        drop = rate * float(index) / count if rate else rate

        def run(x: torch.Tensor, block: nn.Module = block, drop: Any = drop) -> torch.Tensor:
            return block(x, drop_connect_rate=drop)

        found.append((f"blocks.{index}", [block], run))
    found.append(
        (
            "head",
            [net._conv_head, net._bn1],
            lambda x: net._swish(net._bn1(net._conv_head(x))).mean(dim=(2, 3)),
        )
    )
    return found


def resnet_blocks(module: nn.Module) -> Found | None:
    """torchvision ResNet / ResNeXt / Wide ResNet: stem (conv1, bn1, relu, maxpool),
    layer1 … layer4, then average pooling and ``fc`` (the identity once the head is removed)."""
    from torchvision.models import ResNet

    if not isinstance(module, ResNet):
        return None
    m = module
    return [
        ("stem", [m.conv1, m.bn1], lambda x: m.maxpool(m.relu(m.bn1(m.conv1(x))))),
        ("layer1", [m.layer1], m.layer1),
        ("layer2", [m.layer2], m.layer2),
        ("layer3", [m.layer3], m.layer3),
        ("layer4", [m.layer4], lambda x: m.fc(torch.flatten(m.avgpool(m.layer4(x)), 1))),
    ]


def vgg_blocks(module: nn.Module) -> Found | None:
    """torchvision VGG: the five conv stages (each ends with its max-pool), then fc6
    (pool to 7×7, flatten, Linear-ReLU-Dropout: ``B×25088`` → ``B×4096``) and fc7 (the same,
    ``B×4096`` → ``B×4096``, the penultimate features)."""
    from torchvision.models import VGG

    if not isinstance(module, VGG):
        return None
    m = module
    found: Found = []
    layers: list[nn.Module] = []
    for layer in m.features:
        layers.append(layer)
        if isinstance(layer, nn.MaxPool2d):  # owners are the registered layers themselves
            found.append((f"conv{len(found) + 1}", layers, nn.Sequential(*layers)))
            layers = []
    fc6, fc7 = list(m.classifier)[:3], list(m.classifier)[3:]
    run6, run7 = nn.Sequential(*fc6), nn.Sequential(*fc7)
    found.append(("fc6", fc6, lambda x: run6(torch.flatten(m.avgpool(x), 1))))
    found.append(("fc7", fc7, run7))
    return found


INCEPTION_MIXED = ("5b", "5c", "5d", "6a", "6b", "6c", "6d", "6e", "7a", "7b", "7c")


def inception_blocks(module: nn.Module) -> Found | None:
    """torchvision Inception v3 (299 px): stem (input transform, 1a … 4a and both max-pools:
    ``B×3×299×299`` → ``B×192×35×35``), Mixed_5b … Mixed_7c (→ ``B×2048×8×8``); the last adds
    average pooling, dropout and flattening (``B×2048``)."""
    from torchvision.models import Inception3

    if not isinstance(module, Inception3):
        return None
    m = module
    stem = [m.Conv2d_1a_3x3, m.Conv2d_2a_3x3, m.Conv2d_2b_3x3, m.Conv2d_3b_1x1, m.Conv2d_4a_3x3]

    def run_stem(x: torch.Tensor) -> torch.Tensor:
        x = m._transform_input(x)
        x = m.maxpool1(m.Conv2d_2b_3x3(m.Conv2d_2a_3x3(m.Conv2d_1a_3x3(x))))
        return m.maxpool2(m.Conv2d_4a_3x3(m.Conv2d_3b_1x1(x)))

    found: Found = [("stem", list(stem), run_stem)]
    for name in INCEPTION_MIXED:
        layer = getattr(m, f"Mixed_{name}")
        found.append((f"Mixed_{name}", [layer], layer))
    last = found[-1][1][0]
    found[-1] = (
        found[-1][0],
        [last],
        lambda x: m.fc(torch.flatten(m.dropout(m.avgpool(last(x))), 1)),
    )
    return found


def stage_blocks(module: nn.Module) -> Found | None:
    """Conv-4 (stages, then flatten), ResNet-12 (stages, then global average pooling) and
    Projected (its base's blocks, then the projection ``B×d_in`` → ``B×d_out``)."""
    if isinstance(module, Projected):
        base = stage_blocks(module.base) or image_blocks(module.base)
        if base is None:
            base = [("base", [module.base], module.base)]
        return [*base, ("projection", [module.projection], module.projection)]
    if not isinstance(module, (Conv4, ResNet12)):
        return None
    stages = module.stages()
    finish: Callable[[torch.Tensor], torch.Tensor] = (
        (lambda x: x.flatten(1)) if isinstance(module, Conv4) else (lambda x: x.mean(dim=(2, 3)))
    )
    found: Found = [(f"stage{i + 1}", [stage], stage) for i, stage in enumerate(stages)]
    last = stages[-1]
    found[-1] = (found[-1][0], [last], lambda x: finish(last(x)))
    return found


def image_blocks(module: nn.Module) -> Found | None:
    """The blocks of any known image network, else ``None``."""
    for family in (efficientnet_blocks, resnet_blocks, vgg_blocks, inception_blocks, stage_blocks):
        found = family(module)
        if found is not None:
            return found
    return None
