"""Fine-tune the transformer blocks of a text encoder on a classifier's registered shots.

``FewShotClassifier.finetune()`` delegates here. A copy of the encoder is trained (the caller's
encoder object is never changed): every block but the last ``layers`` (default: all of them)
stays frozen, and one of three objectives, all from ``fewshot.heads``, shapes the sentence
embeddings:

- ``"cosine-softmax"`` (default): a normalised-prototype classifier over the registered labels,
  logits ``s · cos(embedding, w_c)`` with ``w_c`` initialised at the frozen class prototypes
  and a learnable scale ``s``; cross-entropy.
- ``"pairs"``: SetFit-style siamese pairs (one positive and one negative partner per shot and
  epoch), loss ``(cos(a, b) − same)²``.
- ``"supcon"``: supervised contrastive loss on class-balanced batches.

The default was chosen on validation data (held-out BANKING77 train, CLINC150 val), never on a
test set: see ``benchmarks/text_finetune_select.py`` and ``DEFAULTS``.
"""

from __future__ import annotations

import copy
import math
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from fewshot.encoders.base import TorchEncoder
from fewshot.encoders.blocks import unpin_eval
from fewshot.encoders.lineage import mark_base
from fewshot.errors import InputError
from fewshot.heads.losses import cosine_pair_loss, supervised_contrastive_loss
from fewshot.heads.prototypical import PrototypicalHead
from fewshot.progress import progress_bar

LOSSES = ("cosine-softmax", "pairs", "supcon")
# Chosen on validation data only (benchmarks/results/text_finetune_select*.json): on BANKING77
# cosine-softmax beat supcon and SetFit-style pairs by 2.5+ points; all 6 blocks × 3 epochs at
# lr 1e-4 then beat 2 blocks × 2 epochs at 2e-4 on BANKING77 val (86.95 vs 86.23, two seeds)
# and on all 150 intents of CLINC150 val (92.48 vs 91.48, two seeds; a 50-intent subset sat
# near 97% and could not separate them). About 3.6 minutes for 770 shots on 2 cores here.
# layers=None means every block (MiniLM has 6), so the default also fits deeper or shallower
# text encoders.
DEFAULTS: dict[str, Any] = {
    "loss": "cosine-softmax",
    "layers": None,
    "epochs": 3,
    "batch_size": 32,
    "lr": 1e-4,
}


@dataclass(frozen=True)
class FinetuneReport:
    """What one fine-tuning run did: objective, unfrozen blocks, steps, time, last losses."""

    loss: str
    layers: int
    epochs: int
    steps: int
    examples: int
    labels: int
    seconds: float
    first_epoch_loss: float
    last_epoch_loss: float


def transformer_blocks(encoder: TorchEncoder) -> nn.ModuleList:
    """The encoder's stack of transformer blocks (``auto_model.encoder.layer``), or InputError."""
    model = getattr(encoder.module, "model", None)
    try:
        blocks = model[0].auto_model.encoder.layer  # type: ignore[index]
    except (AttributeError, IndexError, TypeError, KeyError):
        blocks = None
    if not isinstance(blocks, nn.ModuleList) or len(blocks) == 0:
        raise InputError(
            "finetune() adapts the transformer blocks of a text encoder such as "
            f"load_encoder('minilm'); this encoder ({encoder.spec}) has none. Train a projection "
            "head instead: clf.finetune(part='head')"
        )
    return blocks


def _batches(order: Sequence[int], size: int) -> list[list[int]]:
    return [list(order[i : i + size]) for i in range(0, len(order), size)]


def _balanced_batches(
    targets: list[int], size: int, per_class: int, rng: random.Random
) -> list[list[int]]:
    """Batches of ~``size`` rows made of groups of ``per_class`` same-label rows (for SupCon)."""
    groups: list[list[int]] = []
    by_label: dict[int, list[int]] = {}
    for row, target in enumerate(targets):
        by_label.setdefault(target, []).append(row)
    for rows in by_label.values():
        rows = rows[:]
        rng.shuffle(rows)
        groups += [rows[i : i + per_class] for i in range(0, len(rows), per_class)]
    rng.shuffle(groups)
    batches, current = [], []
    for group in groups:
        current += group
        if len(current) >= size:
            batches.append(current)
            current = []
    if current:
        batches.append(current)
    return batches


def _pairs(targets: list[int], rng: random.Random) -> list[tuple[int, int, float]]:
    """One positive and one negative partner for every row (positives need a second shot)."""
    by_label: dict[int, list[int]] = {}
    for row, target in enumerate(targets):
        by_label.setdefault(target, []).append(row)
    pairs: list[tuple[int, int, float]] = []
    for row, target in enumerate(targets):
        mates = [other for other in by_label[target] if other != row]
        if mates:
            pairs.append((row, rng.choice(mates), 1.0))
        other = row
        while targets[other] == target:
            other = rng.randrange(len(targets))
        pairs.append((row, other, 0.0))
    rng.shuffle(pairs)
    return pairs


def finetune_text_encoder(
    encoder: TorchEncoder,
    examples_by_label: Mapping[Any, Sequence[str]],
    *,
    loss: str = DEFAULTS["loss"],
    layers: int | None = DEFAULTS["layers"],
    epochs: int = DEFAULTS["epochs"],
    batch_size: int = DEFAULTS["batch_size"],
    lr: float = DEFAULTS["lr"],
    seed: int = 0,
    progress: bool | None = None,
    embeddings: Mapping[Any, np.ndarray] | None = None,
) -> tuple[TorchEncoder, FinetuneReport]:
    """A fine-tuned copy of ``encoder`` (frozen again, eval mode) and a report of the run.

    ``embeddings`` (label → shots×d, the encoder's current embeddings of the same examples)
    spares one encoding pass when the caller has them, as ``FewShotClassifier`` does.

    Only the last ``layers`` transformer blocks learn (``None``: all; AdamW, linear decay of
    ``lr``); the copy's ``spec`` gains a ``"finetuned"`` entry, so a classifier saves its
    weights as a checkpoint. Seeded: the same inputs and seed give the same weights on the same machine.
    """
    if loss not in LOSSES:
        raise InputError(f"loss must be one of {LOSSES}, got {loss!r}")
    counts = (("layers", layers), ("epochs", epochs), ("batch_size", batch_size))
    for name, value in counts:
        if name == "layers" and value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InputError(f"{name} must be an int >= 1, got {value!r}")
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise InputError(f"lr must be a positive number, got {lr!r}")
    if len(examples_by_label) < 2:
        raise InputError(
            f"finetune needs at least two registered labels, got {len(examples_by_label)}; "
            "register more classes first"
        )
    texts = [text for shots in examples_by_label.values() for text in shots]
    targets = [c for c, shots in enumerate(examples_by_label.values()) for _ in shots]
    if not all(isinstance(text, str) for text in texts):
        raise InputError("finetune trains a text encoder: every registered example must be a str")
    blocks = transformer_blocks(encoder)
    layers = len(blocks) if layers is None else layers
    if layers > len(blocks):
        raise InputError(
            f"layers must be at most {len(blocks)} (the encoder's blocks), got {layers}"
        )

    start = time.perf_counter()
    tuned = copy.deepcopy(encoder)
    unpin_eval(tuned.module)  # blocks a former plan_blocks froze must train here
    mark_base(tuned)  # fingerprint the pre-trained base: a checkpoint then stores only changes
    trainable = [p for block in transformer_blocks(tuned)[-layers:] for p in block.parameters()]
    rng = random.Random(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        head = PrototypicalHead("cosine", scale=20.0, learn_scale=True)
        weights = nn.Parameter(torch.zeros(0))
        groups: list[dict[str, Any]] = [{"params": trainable, "lr": lr}]
        if loss == "cosine-softmax":
            initial = torch.from_numpy(
                np.concatenate([np.asarray(embeddings[label]) for label in examples_by_label])
                if embeddings is not None
                else tuned.embed(texts, progress=False)
            ).float()
            weights = nn.Parameter(
                F.normalize(head.prototypes(initial, torch.tensor(targets)), dim=1)
            )
            groups.append({"params": [weights, *head.parameters()], "lr": 1e-3})
        for parameter in trainable:
            parameter.requires_grad_(True)
        optimizer = torch.optim.AdamW(groups, weight_decay=0.01)
        plan = _epoch_plan(loss, targets, batch_size, rng)
        total = epochs * len(plan)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1 - step / total)
        tuned.module.train()
        epoch_losses: list[float] = []
        bar = progress_bar(desc=f"finetune ({loss})", total=total, enabled=progress)
        try:
            for epoch in range(epochs):
                plan = plan if epoch == 0 else _epoch_plan(loss, targets, batch_size, rng)
                running = 0.0
                for batch in plan:
                    step_loss = _step_loss(loss, tuned, texts, targets, batch, head, weights)
                    optimizer.zero_grad()
                    step_loss.backward()
                    torch.nn.utils.clip_grad_norm_(trainable, 1.0)
                    optimizer.step()
                    scheduler.step()
                    running += float(step_loss.detach())
                    bar.update()
                    bar.set_postfix(loss=f"{float(step_loss.detach()):.3f}")
                epoch_losses.append(running / len(plan))
        finally:
            bar.close()
            tuned.module.eval()
            for parameter in tuned.module.parameters():
                parameter.requires_grad_(False)
    settings = {"loss": loss, "layers": layers, "epochs": epochs, "lr": lr, "seed": seed}
    spec = {**encoder.spec, "finetuned": settings}  # saved as a checkpoint, not a name
    spec.pop("checkpoint", None)
    tuned.spec = spec
    report = FinetuneReport(
        loss=loss,
        layers=layers,
        epochs=epochs,
        steps=total,
        examples=len(texts),
        labels=len(examples_by_label),
        seconds=time.perf_counter() - start,
        first_epoch_loss=epoch_losses[0],
        last_epoch_loss=epoch_losses[-1],
    )
    return tuned, report


def _epoch_plan(loss: str, targets: list[int], size: int, rng: random.Random) -> list[Any]:
    """One epoch's batches: row indices, or (a, b, same) pairs for the pair loss."""
    if loss == "pairs":
        pairs = _pairs(targets, rng)
        return [pairs[i : i + size] for i in range(0, len(pairs), size)]
    if loss == "supcon":
        return _balanced_batches(targets, size, per_class=4, rng=rng)
    order = list(range(len(targets)))
    rng.shuffle(order)
    return _batches(order, size)


def _embed_train(encoder: TorchEncoder, texts: list[str]) -> torch.Tensor:
    """Differentiable embeddings (B, d) of a list of texts (the encoder in train mode)."""
    return encoder.forward(encoder.preprocess(texts))


def _step_loss(
    loss: str,
    encoder: TorchEncoder,
    texts: list[str],
    targets: list[int],
    batch: list[Any],
    head: PrototypicalHead,
    weights: torch.Tensor,
) -> torch.Tensor:
    """The objective on one batch (rows, or pairs for ``"pairs"``)."""
    if loss == "pairs":
        rows = sorted({i for a, b, _ in batch for i in (a, b)})
        where = {row: position for position, row in enumerate(rows)}
        embedded = _embed_train(encoder, [texts[row] for row in rows])
        a = embedded[[where[a] for a, _, _ in batch]]
        b = embedded[[where[b] for _, b, _ in batch]]
        same = torch.tensor([s for _, _, s in batch])
        return cosine_pair_loss(a, b, same)
    embedded = _embed_train(encoder, [texts[row] for row in batch])
    labels = torch.tensor([targets[row] for row in batch])
    if loss == "supcon":
        return supervised_contrastive_loss(embedded, labels)
    return head.loss(head(embedded, weights), labels)


__all__ = ["DEFAULTS", "LOSSES", "FinetuneReport", "finetune_text_encoder", "transformer_blocks"]
