"""What the network reads for a dataset's items: images turned into normalised, augmented float
batches on the device, texts into token batches.

Images sit on the device as uint8 ``(B, C, S, S)`` at the training size: Omniglot's arrays
with rotations applied on the device (``episodes.images``), any other image data decoded once
through the network's ``ImagePreprocess`` when it fits in ``memory_mb`` (else decoded per
batch through the dataset's bounded cache, said in a log line). A batch is then one gather,
``/255``, inversion, the augmentation (``episodes.augment``, seeded per episode), and the
preprocessing's mean and std: no PIL and no per-item Python in the training loop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from episodes.augment import augment_images
from episodes.images import DeviceImages
from fewshot.data import FewShotDataset, Omniglot
from fewshot.encoders import ImagePreprocess
from fewshot.errors import InputError
from fewshot.progress import progress_bar

Log = Callable[[str], None]


@dataclass(frozen=True)
class FeedOptions:
    """How feeders work: the ``device``, the augmentation ``recipe``, the ``budget`` in bytes
    of decoded images resident on the device, the memory layout, the decoding batch size,
    whether to show progress bars, and where log lines go."""

    device: torch.device
    recipe: str = "none"
    budget: int = 1 << 30
    channels_last: bool = True
    batch_size: int = 64
    progress: bool | None = None
    log: Log = print


def image_input(
    raw: torch.Tensor, prep: ImagePreprocess, recipe: str = "none",
    generator: torch.Generator | None = None, channels_last: bool = True,
) -> torch.Tensor:  # fmt: skip
    """uint8 images (B, C, S, S) → the network's float input (B, C', S, S): scaled to [0, 1],
    inverted when ``prep.invert``, one channel repeated for an RGB network, augmented by
    ``recipe`` (with ``generator``), then normalised by ``prep.mean`` / ``prep.std``."""
    x = raw.float() / 255.0
    if prep.invert:
        x = 1.0 - x
    if prep.mode == "RGB" and x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1).contiguous()
    if recipe != "none" and generator is not None:
        x = augment_images(x, recipe, generator)
    if any(m != 0.0 for m in prep.mean) or any(s != 1.0 for s in prep.std):
        mean = torch.tensor(prep.mean, device=x.device).view(1, -1, 1, 1)
        std = torch.tensor(prep.std, device=x.device).view(1, -1, 1, 1)
        x = (x - mean) / std
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


class ImageFeeder:
    """Network input for items of an image dataset: ``batch(indices, generator)``.

    Arguments:
        dataset: an ``Omniglot`` split (resident as it is) or any image ``FewShotDataset``.
        needed: the dataset indices this feeder may be asked for (decoded once if they fit).
        prep: the network's preprocessing at the training size.
        options: device, augmentation recipe (applied when a generator is given), budget...
        name: the data's name in log lines.
    """

    kind = "image"

    def __init__(
        self, dataset: FewShotDataset, needed: np.ndarray, prep: ImagePreprocess,
        options: FeedOptions, name: str,
    ) -> None:  # fmt: skip
        self.dataset, self.prep, self.options = dataset, prep, options
        self.device, self.recipe = options.device, options.recipe
        self.omniglot = None
        self.bank: torch.Tensor | None = None
        if isinstance(dataset, Omniglot) and dataset.image_size == prep.size:
            self.omniglot = DeviceImages(dataset, self.device)
            return
        needed = np.unique(np.asarray(needed, dtype=np.int64))
        channels = 3 if prep.mode == "RGB" else 1
        size = needed.size * channels * prep.size * prep.size
        if size > options.budget:
            options.log(
                f"[{name}] {needed.size} images at {prep.size} px take {size / 2**20:.0f} MB, "
                f"over --memory-mb {options.budget // 2**20}: decoding them per episode "
                "through a bounded cache (slower; raise --memory-mb to keep them resident)"
            )
            return
        self.row = np.full(len(dataset), -1, dtype=np.int64)
        self.row[needed] = np.arange(needed.size)
        bank = torch.empty((needed.size, channels, prep.size, prep.size), dtype=torch.uint8)
        starts = range(0, needed.size, options.batch_size)
        show = options.progress if len(starts) > 8 else False
        for start in progress_bar(starts, desc=f"decode {name}", enabled=show):
            part = needed[start : start + options.batch_size]
            bank[start : start + part.size] = self._decode(part)
        self.bank = bank.to(self.device)

    def _decode(self, indices: np.ndarray) -> torch.Tensor:
        arrays = self.prep.arrays(list(self.dataset.inputs(indices)))
        if arrays.ndim == 3:
            arrays = arrays[..., None]
        return torch.from_numpy(np.ascontiguousarray(arrays)).permute(0, 3, 1, 2)

    def raw(self, indices: np.ndarray) -> torch.Tensor:
        """uint8 images (B, C, S, S) of dataset items ``indices``, on the device."""
        if self.omniglot is not None:
            return self.omniglot.raw(indices).unsqueeze(1)
        if self.bank is not None:
            rows = torch.from_numpy(self.row[np.asarray(indices, dtype=np.int64)])
            return self.bank[rows.to(self.device)]
        return self._decode(np.asarray(indices, dtype=np.int64)).contiguous().to(self.device)

    def batch(self, indices: np.ndarray, generator: torch.Generator | None = None) -> torch.Tensor:
        """Network input (B, C, S, S) of items ``indices``; augmented when ``generator``."""
        return image_input(
            self.raw(indices), self.prep, self.recipe, generator, self.options.channels_last
        )


class TextFeeder:
    """Network input for items of a text dataset: the token batch of their strings."""

    kind = "text"

    def __init__(self, dataset: FewShotDataset, tokenize: Callable[[list[str]], Any]) -> None:
        self.dataset, self.tokenize = dataset, tokenize

    def batch(self, indices: np.ndarray, generator: torch.Generator | None = None) -> Any:
        """Token batch (``input_ids``, ``attention_mask``: B×T) of items ``indices``."""
        return self.tokenize([str(text) for text in self.dataset.inputs(indices)])


Feeder = ImageFeeder | TextFeeder


def make_feeder(
    dataset: FewShotDataset, needed: np.ndarray, trunk_kind: str, preprocess: Any,
    options: FeedOptions, name: str,
) -> Feeder:  # fmt: skip
    """The feeder of ``dataset`` for a network reading ``trunk_kind`` inputs; data of another
    kind is refused naming the fix."""
    if dataset.kind != trunk_kind:
        example = "minilm" if dataset.kind == "text" else "efficientnet-lite0"
        raise InputError(
            f"train: {name} holds {dataset.kind}s but the network reads {trunk_kind}s; start "
            f"from a {dataset.kind} encoder (e.g. --init {example}) or pass {trunk_kind} data"
        )
    if trunk_kind == "text":
        return TextFeeder(dataset, preprocess)
    return ImageFeeder(dataset, needed, preprocess, options, name)


def looks_drawn(feeder: ImageFeeder, sample: np.ndarray) -> bool:
    """Whether images look like drawings (grayscale, mostly one paper colour): ``auto``
    augmentation picks random affine distortions for them, crops and flips for photos."""
    if isinstance(feeder.dataset, Omniglot):
        return True
    raw = feeder.raw(sample[:16]).float()
    gray = raw.shape[1] == 1 or bool((raw.amax(1) - raw.amin(1)).abs().max() < 8)
    corner = raw[:, :, :1, :1]
    paper = (raw - corner).abs().lt(16).float().mean()
    return gray and float(paper) > 0.5
