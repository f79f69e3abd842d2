"""DeviceImages: an episode gathered on the device is exactly the dataset's images, rotated as
their classes are, as float ink-1 network input."""

from __future__ import annotations

import numpy as np
import torch

from episodes.images import DeviceImages
from fewshot.data.omniglot import Omniglot


def test_batch_matches_the_dataset_images(omniglot_root, cache_dir):
    data = Omniglot(omniglot_root, "background", alphabets=["Greek"], cache_dir=cache_dir,
                    rotations=(0, 90, 180, 270))  # fmt: skip
    images = DeviceImages(data, torch.device("cpu"))
    picks = np.concatenate([np.flatnonzero(data.rotation == k)[:3] for k in range(4)])
    x = images.batch(picks)
    assert x.shape == (12, 1, 28, 28) and x.dtype == torch.float32
    expected = 1.0 - data.images(picks).astype(np.float32) / 255.0  # ink 1, paper 0
    np.testing.assert_allclose(x[:, 0].numpy(), expected, atol=1e-6)
    unturned = 1.0 - data.base_images[data.image_index[picks]] / 255.0
    for row in range(3, 12):  # rotated classes: the base drawing turned, not the drawing as is
        assert not np.allclose(x[row, 0].numpy(), unturned[row])
