"""A split's images resident on the training device, gathered into episode batches.

The hot loop never touches PIL: the unrotated uint8 images (M, S, S) sit on the device once,
an episode is an index gather plus ``torch.rot90`` for rotated classes, and the result is the
network's input, float (B, 1, S, S) with ink 1 and paper 0.
"""

from __future__ import annotations

import numpy as np
import torch

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
        idx = np.asarray(indices, dtype=np.int64)
        src = torch.from_numpy(self.image_index[idx]).to(self.device, non_blocking=True)
        images = self.base[src]
        rot = self.rotation[idx]
        for k in (1, 2, 3):
            sel = np.flatnonzero(rot == k)
            if sel.size:
                at = torch.from_numpy(sel).to(self.device, non_blocking=True)
                images[at] = torch.rot90(images[at], k, dims=(1, 2))
        return ink(images)
