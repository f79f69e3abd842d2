"""Random image augmentation on preprocessed batches ``B×C×H×W`` (already normalised), seeded.

Three built-in recipes, each a ``torchvision.transforms.v2`` pipeline applied image by image
with torch's random generator (seed it for repeatable runs):

- ``"natural"`` (photographs): a random resized crop (60–100% of the area, aspect 3/4–4/3)
  back to the input size, and a horizontal flip half the time.
- ``"affine"`` (drawn characters, as Koch et al. 2015 distorted Omniglot): rotation ±10°,
  shear ±0.3 rad (±17°), scale 0.8–1.2, translation ±10%; no flips (they change characters).
  The uncovered border is filled with the image's own corner value (its paper).
- ``"none"``: the identity.

Any callable ``B×C×H×W → B×C×H×W`` may be passed instead.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from fewshot.errors import InputError

Augment = Callable[[torch.Tensor], torch.Tensor]
RECIPES = ("natural", "affine", "none")


def _natural(images: torch.Tensor) -> torch.Tensor:
    from torchvision.transforms import v2  # imported on use: torchvision takes 2 s to import

    size = tuple(images.shape[-2:])
    pipeline = v2.Compose(
        [
            v2.RandomResizedCrop(size, scale=(0.6, 1.0), ratio=(3 / 4, 4 / 3), antialias=True),
            v2.RandomHorizontalFlip(),
        ]
    )
    return torch.stack([pipeline(image) for image in images])


def _affine(images: torch.Tensor) -> torch.Tensor:
    from torchvision.transforms import v2

    out = []
    for image in images:
        paper = [float(v) for v in image[:, 0, 0]]  # the corner: background to fill with
        transform = v2.RandomAffine(
            degrees=10, translate=(0.1, 0.1), scale=(0.8, 1.2), shear=(-17, 17, -17, 17), fill=paper
        )
        out.append(transform(image))
    return torch.stack(out)


def _identity(images: torch.Tensor) -> torch.Tensor:
    return images


def augmentation(recipe: str | Augment) -> Augment:
    """The augmentation named ``recipe`` (``RECIPES``), or ``recipe`` itself if callable."""
    if callable(recipe):
        return recipe
    table: dict[str, Augment] = {"natural": _natural, "affine": _affine, "none": _identity}
    if recipe not in table:
        raise InputError(f"augment must be one of {RECIPES} or a callable, got {recipe!r}")
    return table[recipe]
