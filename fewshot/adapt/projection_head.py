"""Train a ``ProjectionHead`` episodically on a classifier's own shots.

The head starts as the identity and learns, with the prototypical loss on N-way episodes drawn
from the registered labels (cosine metric, learnable scale), a metric space where a class's
shots sit closer to their own prototype than to the others'. A penalty ``λ‖W − I‖²`` keeps it
near the identity, so a handful of shots per class cannot move it far from the encoder's space.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from fewshot.errors import InputError
from fewshot.heads.projection import ProjectionHead
from fewshot.heads.prototypical import PrototypicalHead
from fewshot.progress import progress_bar


def train_projection_head(
    shots_by_label: Mapping[Any, np.ndarray],
    *,
    episodes: int = 300,
    n_way: int = 20,
    lr: float = 1e-3,
    identity_weight: float = 1e-2,
    seed: int = 0,
    progress: bool | None = None,
) -> ProjectionHead:
    """Train a ``ProjectionHead`` on N-way episodes drawn from labelled embeddings (K_c, d) each.

    Each episode takes ``min(n_way, labels)`` labels with at least two shots; a third of each
    label's shots (at least one) are queries and the rest its support. The loss is the cosine
    prototypical cross-entropy plus ``identity_weight · ‖W − I‖²``. Seeded and deterministic.
    """
    eligible = [label for label, shots in shots_by_label.items() if len(shots) >= 2]
    if len(eligible) < 2:
        raise InputError(
            "train_projection_head needs at least two labels with two or more shots each "
            f"(got {len(eligible)}); register more examples"
        )
    if episodes < 1 or n_way < 2:
        raise InputError(f"need episodes >= 1 and n_way >= 2, got {episodes} and {n_way}")
    dims = {np.asarray(shots).shape[1] for shots in shots_by_label.values()}
    if len(dims) != 1:
        raise InputError(f"shots have different dimensions {sorted(dims)}")
    data = [torch.from_numpy(np.asarray(shots_by_label[label], np.float32)) for label in eligible]
    generator = torch.Generator().manual_seed(seed)
    head = ProjectionHead(dims.pop())
    metric = PrototypicalHead("cosine", scale=10.0, learn_scale=True)
    optimizer = torch.optim.Adam([*head.parameters(), *metric.parameters()], lr=lr)
    way = min(n_way, len(eligible))
    head.train()
    for _ in progress_bar(range(episodes), desc="projection head", enabled=progress):
        chosen = torch.randperm(len(eligible), generator=generator)[:way].tolist()
        support, support_y, query, query_y = [], [], [], []
        for position, index in enumerate(chosen):
            shots = data[index][torch.randperm(len(data[index]), generator=generator)]
            n_query = max(1, len(shots) // 3)
            query.append(shots[:n_query])
            support.append(shots[n_query:])
            query_y += [position] * n_query
            support_y += [position] * (len(shots) - n_query)
        loss, _ = metric.episode_loss(
            head(torch.cat(support)),
            torch.tensor(support_y),
            head(torch.cat(query)),
            torch.tensor(query_y),
        )
        loss = loss + identity_weight * head.identity_penalty()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    head.eval()
    for parameter in head.parameters():
        parameter.requires_grad_(False)
    return head
