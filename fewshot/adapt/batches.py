"""Batches for fine-tuning on a classifier's shots: class-balanced rows, decoded images, and a
cache of the frozen blocks' activations."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from fewshot.encoders.base import TorchEncoder
from fewshot.encoders.blocks import BlockPlan
from fewshot.encoders.preprocess import ImagePreprocess

ImageSource = Callable[[list[int]], torch.Tensor]


def class_batches(targets: list[int], batch_size: int, generator: torch.Generator) -> list[int]:
    """One class-balanced batch of about ``batch_size`` row indices: classes in random order,
    ``max(2, ceil(batch_size / classes))`` random rows of each (fewer if a class has fewer)."""
    by_class: dict[int, list[int]] = {}
    for row, target in enumerate(targets):
        by_class.setdefault(target, []).append(row)
    per_class = max(2, math.ceil(batch_size / len(by_class)))
    rows: list[int] = []
    for c in torch.randperm(len(by_class), generator=generator).tolist():
        members = list(by_class.values())[c]
        order = torch.randperm(len(members), generator=generator)[:per_class].tolist()
        rows += [members[i] for i in order]
        if len(rows) >= batch_size:
            break
    return rows


def image_source(encoder: TorchEncoder, items: list[Any]) -> ImageSource:
    """``rows → B×C×H×W`` network input for ``items``. With an ``ImagePreprocess`` every image
    is decoded, resized and cropped once and kept as uint8 (a 224-px image: 150 KB); other
    preprocessing runs on every call."""
    preprocess = encoder.preprocess
    if isinstance(preprocess, ImagePreprocess):
        arrays = preprocess.arrays(items)
        return lambda rows: preprocess.normalise(arrays[rows])
    return lambda rows: torch.as_tensor(preprocess([items[row] for row in rows]))


def encode_in_chunks(plan: BlockPlan, source: ImageSource, count: int, chunk: int = 64) -> Any:
    """``plan.prefix`` of all ``count`` rows (no gradients): the cache of frozen activations,
    e.g. ``count×C×h×w``, valid while nothing random is applied below the trained blocks."""
    plan.eval()
    parts = [
        plan.prefix(source(list(range(start, min(start + chunk, count)))))
        for start in range(0, count, chunk)
    ]
    return torch.cat(parts)
