"""Image preprocessing: PIL images, file paths, arrays or tensors → a normalised float batch."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from fewshot.errors import InputError


def load_image(item: Any, mode: str = "RGB") -> Image.Image:
    """Open one image-like input as a PIL image in ``mode`` ("RGB" or "L").

    Accepts a PIL image, a path, a uint8 array (H×W or H×W×C), a float array in [0, 1],
    or a torch tensor C×H×W in [0, 1] (torchvision's convention).
    """
    if isinstance(item, Image.Image):
        image = item
    elif isinstance(item, (str, os.PathLike)):
        path = os.fspath(item)
        try:
            with Image.open(path) as opened:
                opened.load()
                image = opened.copy()
        except FileNotFoundError as exc:
            raise InputError(f"image file not found: {path}") from exc
        except (UnidentifiedImageError, OSError, SyntaxError) as exc:
            raise InputError(f"cannot decode image file {path}: {exc}") from exc
    elif isinstance(item, torch.Tensor):
        return load_image(_tensor_to_array(item), mode)
    elif isinstance(item, np.ndarray):
        image = Image.fromarray(_array_to_uint8(item))
    else:
        raise InputError(
            f"cannot read an image from {type(item).__name__}; pass a PIL image, a file path, "
            "a uint8 array (H×W×C) or a float tensor (C×H×W in [0, 1])"
        )
    return image if image.mode == mode else image.convert(mode)


def _tensor_to_array(tensor: torch.Tensor) -> np.ndarray:
    array = tensor.detach().cpu().numpy()
    if array.ndim == 3 and array.shape[0] in (1, 3, 4) and array.shape[-1] not in (1, 3, 4):
        array = np.moveaxis(array, 0, -1)  # C×H×W → H×W×C
    return array


def _array_to_uint8(array: np.ndarray) -> np.ndarray:
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] not in (3, 4)):
        raise InputError(
            f"an image array must be H×W, H×W×3 or H×W×4, got shape {tuple(array.shape)}"
        )
    if array.dtype == np.uint8:
        return np.ascontiguousarray(array)
    if array.dtype == bool:
        return array.astype(np.uint8) * 255
    if not np.issubdtype(array.dtype, np.number):
        raise InputError(f"an image array must be numeric, got dtype {array.dtype}")
    if not np.all(np.isfinite(array)):
        raise InputError("an image array contains NaN or infinite values")
    low, high = float(array.min()), float(array.max())
    if low < 0.0 or high > 1.0:
        raise InputError(
            f"a float image array must hold values in [0, 1], got [{low:.3g}, {high:.3g}]; "
            "pass uint8 for 0–255 data"
        )
    return np.round(array * 255.0).astype(np.uint8)


@dataclass(frozen=True)
class ImagePreprocess:
    """Resize the shorter side to ``resize``, centre-crop ``size``, scale to [0, 1], normalise.

    ``mode`` "RGB" gives 3×size×size; "L" gives 1×size×size. ``invert`` maps x → 1 − x before
    normalising (Omniglot strokes are black on white; networks prefer ink as high values).
    """

    size: int = 224
    resize: int | None = 256
    mode: str = "RGB"
    mean: tuple[float, ...] = (0.485, 0.456, 0.406)
    std: tuple[float, ...] = (0.229, 0.224, 0.225)
    invert: bool = False

    def __post_init__(self) -> None:
        for name in ("size", "resize"):
            value = getattr(self, name)
            if value is None and name == "resize":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= 4096:
                raise InputError(
                    f"ImagePreprocess.{name} must be an int in [1, 4096], got {value!r}"
                )
        if self.mode not in ("RGB", "L"):
            raise InputError(f"ImagePreprocess.mode must be 'RGB' or 'L', got {self.mode!r}")
        channels = 3 if self.mode == "RGB" else 1
        if len(self.mean) != channels or len(self.std) != channels:
            raise InputError(f"mean and std need {channels} values for mode {self.mode!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON form stored in checkpoints."""
        return {
            key: list(value) if isinstance(value, tuple) else value
            for key, value in asdict(self).items()
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImagePreprocess:
        """Inverse of ``to_dict``."""
        fields = dict(data)
        for key in ("mean", "std"):
            if key in fields:
                fields[key] = tuple(float(v) for v in fields[key])
        return cls(**fields)

    def image_to_array(self, image: Image.Image) -> np.ndarray:
        """One PIL image → uint8 ``size×size(×3)`` array after resize and centre crop."""
        if self.resize is not None:
            width, height = image.size
            scale = self.resize / min(width, height)
            if scale != 1.0:
                new_size = (max(1, round(width * scale)), max(1, round(height * scale)))
                image = image.resize(new_size, Image.Resampling.BILINEAR)
        width, height = image.size
        if (width, height) != (self.size, self.size):
            if min(width, height) < self.size:
                image = image.resize((self.size, self.size), Image.Resampling.BILINEAR)
            else:
                left, top = (width - self.size) // 2, (height - self.size) // 2
                image = image.crop((left, top, left + self.size, top + self.size))
        return np.asarray(image, dtype=np.uint8)

    def __call__(self, items: list[Any]) -> torch.Tensor:
        """A list of image-like inputs → float32 tensor ``B×C×size×size``."""
        return self.normalise(self.arrays(items))

    def arrays(self, items: list[Any]) -> np.ndarray:
        """Decoded, resized and cropped inputs as uint8 ``B×size×size(×3)``: a compact cache
        that ``normalise`` turns into the network's input."""
        return np.stack([self.image_to_array(load_image(item, self.mode)) for item in items])

    def normalise(self, arrays: np.ndarray) -> torch.Tensor:
        """uint8 ``B×size×size(×C)`` (from ``arrays``) → float32 ``B×C×size×size``."""
        if arrays.ndim == 3:
            arrays = arrays[..., None]
        batch = torch.from_numpy(arrays).permute(0, 3, 1, 2).float().div_(255.0)
        if self.invert:
            batch = 1.0 - batch
        mean = torch.tensor(self.mean).view(1, -1, 1, 1)
        std = torch.tensor(self.std).view(1, -1, 1, 1)
        return batch.sub_(mean).div_(std)
