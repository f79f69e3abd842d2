"""An image folder as a few-shot dataset: one sub-folder per class, images decoded lazily.

``ImageFolderDataset("photos/")`` lists ``photos/<class>/**/<image>`` (classes in sorted order,
files in sorted order, hidden files skipped) without opening a single image; ``inputs`` decodes
the images an episode needs through a ``DecodeCache`` (bounded memory, optional disk cache).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from fewshot.data.dataset import FewShotDataset
from fewshot.data.image_cache import DEFAULT_MAX_BYTES, DecodeCache
from fewshot.data.sources import DatasetError, DatasetNotFoundError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm")


class ImageFolderDataset(FewShotDataset):
    """Images under ``root/<class>/``: items are file paths, ``inputs`` gives uint8 arrays.

    Arguments:
        root: the folder holding one sub-folder per class (nested folders inside a class
            folder belong to that class).
        image_size: decode to ``image_size`` × ``image_size`` (shorter side resized, centre
            crop); None keeps each image's own size (the encoder resizes it).
        mode: ``"RGB"`` (H, W, 3) or ``"L"`` (H, W) arrays.
        max_bytes: memory budget of the decoded-image cache.
        disk_cache: folder for decoded arrays on disk (None: none).

    An empty class folder is refused here, naming it; an unreadable image when it is first
    decoded, naming the file.

    Example:
        >>> ds = ImageFolderDataset("photos/", image_size=128)
        >>> ds.class_names[:2], ds.inputs([0])[0].shape
        (['cat', 'dog'], (128, 128, 3))
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        image_size: int | None = None,
        mode: str = "RGB",
        max_bytes: int = DEFAULT_MAX_BYTES,
        disk_cache: str | os.PathLike[str] | None = None,
    ) -> None:
        folder = Path(root).expanduser()
        paths, labels, classes = scan_image_folder(folder)
        super().__init__(
            paths, labels, classes, kind="image",
            info={"dataset": "image-folder", "path": folder.name, "image_size": image_size},
        )  # fmt: skip
        self.root_folder = folder
        self.cache = DecodeCache(image_size, mode, max_bytes, disk_cache)

    def inputs(self, indices: Sequence[int] | np.ndarray) -> list[np.ndarray]:
        """Decoded images (uint8) of items ``indices``, through the cache."""
        return self.cache.get_many([self.items[int(i)] for i in np.asarray(indices)])


def scan_image_folder(folder: Path) -> tuple[list[str], list[int], list[str]]:
    """``(paths, labels, classes)`` of the images under ``folder/<class>/``, sorted."""
    if not folder.is_dir():
        raise DatasetNotFoundError(
            f"{folder} is not a folder; pass a folder holding one sub-folder of images per class"
        )
    class_dirs = sorted(
        (d for d in folder.iterdir() if d.is_dir() and not d.name.startswith(".")),
        key=lambda d: d.name,
    )
    if not class_dirs:
        raise DatasetError(
            f"{folder} has no class sub-folders; put each class's images in a folder named "
            f"after the class, e.g. {folder / 'cat' / '001.jpg'}"
        )
    paths: list[str] = []
    labels: list[int] = []
    for label, class_dir in enumerate(class_dirs):
        images = sorted(
            str(p)
            for p in class_dir.rglob("*")
            if p.suffix.lower() in IMAGE_SUFFIXES
            and p.is_file()
            and not any(part.startswith(".") for part in p.relative_to(class_dir).parts)
        )
        if not images:
            raise DatasetError(
                f"class folder {class_dir} holds no images ({', '.join(IMAGE_SUFFIXES)}); add "
                "images to it or remove the folder"
            )
        paths.extend(images)
        labels.extend([label] * len(images))
    return paths, labels, [d.name for d in class_dirs]
