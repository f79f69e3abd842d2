"""Scoring a run's fixed validation episodes: every item they use embedded once, then each
episode scored from those embeddings by the task's head (prototypes, or siamese pairs reduced
per class), as ``fewshot evaluate`` scores a finished encoder."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import numpy as np
import torch
from torch import nn

from episodes.evaluate import score_episodes
from episodes.prefix_cache import Activations
from episodes.scoring import EpisodeScorer
from episodes.tasks import Task
from fewshot.heads import Identity


class ValidationSet:
    """A task's fixed validation episodes and the unique items they use (``positions``:
    dataset indices, in the order they are embedded)."""

    def __init__(self, task: Task, activations: Activations) -> None:
        source = task.validation
        self.task, self.activations = task, activations
        self.episodes = list(source.sampler)
        used = np.unique(
            np.concatenate([np.concatenate([e.support.ravel(), e.query.ravel()])
                            for e in self.episodes])
        )  # fmt: skip
        self.positions = source.positions[used]
        self.row_of = np.full(len(source.positions), -1, dtype=np.int64)
        self.row_of[used] = np.arange(used.size)

    @torch.no_grad()
    def score(
        self, embed: Callable[[Any], torch.Tensor], head: nn.Module, batch_size: int,
        autocast: Callable[[], AbstractContextManager[Any]],
    ) -> float:  # fmt: skip
        """Mean query accuracy over the episodes; ``embed`` maps prefix activations to
        embeddings (B, d) and must be in eval mode."""
        parts = []
        for start in range(0, self.positions.size, batch_size):
            chunk = self.positions[start : start + batch_size]
            with autocast():
                parts.append(embed(self.activations(chunk)).float().cpu())
        features = torch.cat(parts).numpy()
        accs = score_episodes(features, self.row_of, self.episodes, EpisodeScorer(head),
                              Identity())  # fmt: skip
        return float(np.mean(accs))
