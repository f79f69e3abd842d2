"""What one training episode computes: embeddings of its items, the head's loss (prototypical or
siamese pairs), and DANN's domain loss, all inside one module that DDP can wrap.

``TrainingEpisode`` is an episode ready for the network: the frozen prefix's activations of
its support then query items, their episode labels, the task it belongs to, the siamese pairs
drawn from it, and (with ``--target-data``) a batch of unlabelled target-domain activations.
``EpisodeLearner`` holds the trained network, one head per task and the domain classifier;
``forward(episode)`` returns ``(loss, accuracy)``: query accuracy against prototypes, or pair
accuracy for siamese heads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from episodes.sampler import Episode
from fewshot.errors import InputError
from fewshot.heads import DomainClassifier, PrototypicalHead, SiameseHead, siamese_loss


@dataclass
class TrainingEpisode:
    """One episode for ``EpisodeLearner``: ``x`` prefix activations of N·K support then N·Q
    query items, ``ns`` = N·K, episode labels ``support_labels`` (N·K,) and ``query_labels``
    (N·Q,), the ``task`` key, siamese ``pairs`` ``(first (P,), second (P,), same (P,))`` rows
    of x, DANN's ``target`` activations with the reversal strength ``lam``, and the ``seed``
    of torch's generator for this episode's forward pass (dropout), so that an episode is
    computed alike in one process or under DDP."""

    x: Any
    ns: int
    support_labels: torch.Tensor
    query_labels: torch.Tensor
    task: str = "t0"
    pairs: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None
    target: Any = None
    lam: float = 0.0
    seed: int | None = None

    @property
    def items(self) -> int:
        """Rows embedded for this episode (target rows included)."""
        rows = self.ns + int(self.query_labels.numel())
        return rows + (_rows(self.target) if self.target is not None else 0)


def _rows(activation: Any) -> int:
    hidden = getattr(activation, "hidden", activation)
    return int(hidden.shape[0])


def siamese_pairs(
    episode: Episode, rng: np.random.Generator, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Balanced same/different pairs among an episode's items (Koch et al.): every item once
    with another item of its class and once with an item of another class. Rows index the
    episode's support (N·K) then query (N·Q) items; returns ``(first, second, same)`` (2·M,)."""
    n, k = episode.support.shape
    q = episode.query.shape[1]
    per = k + q
    if per < 2 or n < 2:
        raise InputError(
            "train: the siamese head pairs items of one class and of two classes: it needs "
            "--ways >= 2 and --shots + --queries >= 2"
        )
    cls = np.repeat(np.arange(n), per)
    col = np.tile(np.arange(per), n)

    # row of (class c, column j): support columns first, then query columns
    def row(c: np.ndarray, j: np.ndarray) -> np.ndarray:
        return np.where(j < k, c * k + j, n * k + c * q + (j - k))

    mine = row(cls, col)
    same_col = (col + rng.integers(1, per, size=col.size)) % per
    other_cls = (cls + rng.integers(1, n, size=cls.size)) % n
    positives, negatives = row(cls, same_col), row(other_cls, rng.integers(0, per, cls.size))
    first = np.concatenate([mine, mine])
    second = np.concatenate([positives, negatives])
    same = np.concatenate([np.ones(mine.size), np.zeros(mine.size)])
    return tuple(torch.as_tensor(a, device=device) for a in (first, second, same))  # type: ignore[return-value]


def make_heads(kind: str, metric: str, dim: int, keys: list[str]) -> nn.ModuleDict:
    """One head per task key: ``PrototypicalHead(metric)`` (cosine: learnable scale) or
    ``SiameseHead(dim)``."""
    if kind == "siamese":
        return nn.ModuleDict({key: SiameseHead(dim) for key in keys})
    return nn.ModuleDict({key: PrototypicalHead(metric) for key in keys})


class EpisodeLearner(nn.Module):
    """The trained network, one head per task and an optional domain classifier, as one
    module: DDP averages all their gradients.

    Arguments:
        network: the module holding the trained blocks (registered so DDP sees them).
        embed: prefix activations → embeddings (B, d), differentiable.
        heads: ``ModuleDict`` task key → head.
        projection: a linear map trained on top of frozen features (registered), or None.
        domain: DANN's domain classifier, or None; ``dann_weight`` scales its loss.
    """

    def __init__(
        self, network: nn.Module, embed: Callable[[Any], torch.Tensor], heads: nn.ModuleDict,
        projection: nn.Module | None = None, domain: DomainClassifier | None = None,
        dann_weight: float = 1.0,
    ) -> None:  # fmt: skip
        super().__init__()
        self.network, self.heads, self.projection, self.domain = network, heads, projection, domain
        self._embed, self.dann_weight = embed, dann_weight
        self.last_domain_accuracy: torch.Tensor | None = None

    def forward(self, episode: TrainingEpisode) -> tuple[torch.Tensor, torch.Tensor]:
        """``(loss, accuracy)`` of one episode (see the module docstring)."""
        z = self._embed(episode.x)
        head = self.heads[episode.task]
        if isinstance(head, SiameseHead):
            assert episode.pairs is not None
            first, second, same = episode.pairs
            logits = head(z[first], z[second])
            loss = siamese_loss(logits, same)
            acc = ((logits > 0).float() == same).float().mean()
        else:
            assert isinstance(head, PrototypicalHead)
            ns = episode.ns
            loss, acc = head.episode_loss(z[:ns], episode.support_labels, z[ns:],
                                          episode.query_labels)  # fmt: skip
        # the other tasks' heads join with weight 0, so every rank uses every parameter (DDP)
        idle = [p.sum() for key, h in self.heads.items() if key != episode.task
                for p in h.parameters()]  # fmt: skip
        if idle:
            loss = loss + 0.0 * torch.stack(idle).sum()
        if self.domain is not None and episode.target is not None:
            zt = self._embed(episode.target)
            source, target = self.domain(z, episode.lam), self.domain(zt, episode.lam)
            loss = loss + self.dann_weight * self.domain.loss(source, target)
            self.last_domain_accuracy = self.domain.accuracy(source, target).detach()
        return loss, acc
