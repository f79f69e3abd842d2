"""A split's images resident on the training device, gathered into episode batches.

The hot loop never touches PIL: the unrotated uint8 images (M, S, S) sit on the device once,
an episode is an index gather plus ``torch.rot90`` for rotated classes, and the result is the
network's input, float (B, 1, S, S) with ink 1 and paper 0.
"""

from __future__ import annotations

import numpy as np
import torch

from episodes.augment import random_affine
from episodes.config import TrainConfig
from episodes.sampler import EpisodeSampler
from fewshot.data.omniglot import Omniglot
from fewshot.encoders.omniglot import ink


class DeviceImages:
    """``dataset``'s uint8 images on ``device``; ``batch(indices)`` → float (B, 1, S, S)."""

    def __init__(self, dataset: Omniglot, device: torch.device):
        self.base = torch.from_numpy(dataset.base_images).to(device)
        self.image_index = dataset.image_index
        self.rotation = dataset.rotation  # stays on the host: no device sync per episode
        self.device = device

    def batch(self, indices: np.ndarray) -> torch.Tensor:
        """Images of dataset examples ``indices`` (B,), rotated as their classes are."""
        return ink(self.raw(indices))

    def raw(self, indices: np.ndarray) -> torch.Tensor:
        """uint8 images (B, S, S) of dataset examples ``indices``, rotated, ink 0 / paper 255."""
        idx = np.asarray(indices, dtype=np.int64)
        src = torch.from_numpy(self.image_index[idx]).to(self.device, non_blocking=True)
        images = self.base[src]
        rot = self.rotation[idx]
        for k in (1, 2, 3):
            sel = np.flatnonzero(rot == k)
            if sel.size:
                at = torch.from_numpy(sel).to(self.device, non_blocking=True)
                images[at] = torch.rot90(images[at], k, dims=(1, 2))
        return images


def episode_batch(
    sampler: EpisodeSampler, i: int, positions: np.ndarray, images: DeviceImages,
    config: TrainConfig,
) -> tuple[torch.Tensor, int, torch.Tensor, torch.Tensor]:  # fmt: skip
    """Omniglot episode ``i`` as tensors for the one-network ``distributed.EpisodeLearner``
    (benchmarks use it): ``(x (N·K + N·Q, 1, S, S) support then query, N·K, support_labels
    (N·K,), query_labels (N·Q,))``, affine-augmented unless ``config.augment`` is ``none``.

    ``positions`` maps the sampler's example numbers to dataset indices (a subset's rows).
    """
    ep = sampler[i]
    s_idx, q_idx = positions[ep.support.ravel()], positions[ep.query.ravel()]
    x = images.batch(np.concatenate([s_idx, q_idx]))
    if config.augment not in (False, "none"):
        gen = torch.Generator().manual_seed(config.seed * 1_000_003 + i)
        x = random_affine(x, gen)
    device = images.device
    s_lab = torch.as_tensor(ep.support_labels(), device=device)
    q_lab = torch.as_tensor(ep.query_labels(), device=device)
    return x, len(s_idx), s_lab, q_lab
