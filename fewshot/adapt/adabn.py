"""AdaBN (Li et al. 2016): re-estimate BatchNorm statistics on unlabelled target-domain inputs.

A network trained on one domain normalises its features with that domain's means and
variances; on another domain (ImageNet photographs → handwritten characters) those statistics
are off. AdaBN replaces them with statistics measured on target inputs, no labels and no
gradient needed. ``layers`` limits it to the BatchNorm layers of the last N blocks (the
blocks of ``fewshot.encoders.blocks``): on Omniglot, re-estimating every layer of
EfficientNet-Lite0 made frozen features worse, so the early, generic layers can be kept.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from fewshot.encoders.base import TorchEncoder, as_input_list
from fewshot.encoders.blocks import network_blocks, parse_train_blocks, unpin_eval
from fewshot.encoders.lineage import mark_base
from fewshot.errors import InputError
from fewshot.progress import progress_bar


def adabn(
    encoder: TorchEncoder,
    inputs: Sequence[Any],
    *,
    layers: int | str = "all",
    batch_size: int = 64,
    progress: bool | None = None,
) -> TorchEncoder:
    """A copy of ``encoder`` whose BatchNorm running means and variances in its last
    ``layers`` blocks (int, or ``"all"``) are the exact averages over ``inputs`` (raw inputs
    the encoder takes, ≥ 2; no labels); everything else, the caller's encoder included, is
    unchanged. Batches of about ``batch_size`` (never 1: a single image has no batch variance
    after global pooling); each batch is normalised by its own statistics while they are
    gathered, as in training. The copy's ``spec`` gains ``"finetuned": {"method": "adabn",
    ...}`` so a classifier saves its statistics.
    """
    if not isinstance(encoder, TorchEncoder):
        raise InputError(f"adabn needs a torch encoder, got {type(encoder).__name__}")
    items = as_input_list(inputs, "inputs")
    if len(items) < 2:
        raise InputError(f"adabn needs at least 2 target-domain inputs, got {len(items)}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 2:
        raise InputError(f"batch_size must be an int >= 2, got {batch_size!r}")
    tuned = copy.deepcopy(encoder)
    unpin_eval(tuned.module)  # a former plan's frozen blocks must take train mode here
    mark_base(tuned)
    blocks = network_blocks(tuned.module)
    count = parse_train_blocks(layers, len(blocks), [b.name for b in blocks])
    norms = [
        module
        for block in blocks[len(blocks) - count :]
        for owner in block.modules
        for module in owner.modules()
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and module.track_running_stats
    ]
    if not norms:
        raise InputError(
            f"the last {count} blocks of this encoder hold no BatchNorm layer to adapt; "
            f"its blocks are {', '.join(b.name for b in blocks)}"
        )
    momenta = [norm.momentum for norm in norms]
    chunks = np.array_split(np.arange(len(items)), max(1, len(items) // batch_size))
    tuned.module.eval()
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative average: every batch counts equally
        norm.train()
    try:
        with torch.no_grad():
            for rows in progress_bar(chunks, desc="adabn", enabled=progress):
                tuned.forward(tuned.preprocess([items[i] for i in rows]))
    finally:
        for norm, momentum in zip(norms, momenta):
            norm.momentum = momentum
        tuned.module.eval()
    settings = {"method": "adabn", "layers": count, "inputs": len(items)}
    previous = encoder.spec.get("finetuned")
    spec = {**encoder.spec, "finetuned": {**settings, **({"after": previous} if previous else {})}}
    spec.pop("checkpoint", None)
    tuned.spec = spec
    return tuned
