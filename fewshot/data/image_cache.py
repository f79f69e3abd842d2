"""Decoding image files into uint8 arrays with bounded memory: an LRU cache with a byte budget,
optionally backed by one ``.npy`` file per image on disk.

A folder of a million photos must not be held in memory whole, and must not be decoded again
on every epoch either. ``DecodeCache.get(path)`` decodes a file at a fixed size (shorter side
resized, centre crop, as ``fewshot.encoders.ImagePreprocess`` does), keeps the most recently
used arrays up to ``max_bytes`` and, with ``disk_dir``, writes each decoded array to a file
keyed by the image's path, size and modification time, so a changed file is decoded afresh.
"""

from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from fewshot.data.sources import DatasetError
from fewshot.durable import save_npy_best_effort

DEFAULT_MAX_BYTES = 256 * 2**20
DISK_VERSION = 1


def decode_image(path: str | os.PathLike[str], size: int | None, mode: str = "RGB") -> np.ndarray:
    """One image file → uint8 array: (S, S, 3) for ``"RGB"``, (S, S) for ``"L"``.

    ``size``: the shorter side is resized to it (bilinear) and the centre cropped to a square;
    ``None`` keeps the native resolution. An unreadable file raises ``DatasetError`` naming it.
    """
    try:
        with Image.open(path) as opened:
            image = opened.convert(mode)
    except FileNotFoundError as exc:
        raise DatasetError(f"image file {path} is missing; was the folder changed?") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise DatasetError(
            f"cannot decode image file {path} ({exc}); remove or replace it, or convert it "
            "to PNG/JPEG"
        ) from exc
    if size is not None:
        width, height = image.size
        scale = size / min(width, height)
        if scale != 1.0:
            new = (max(size, round(width * scale)), max(size, round(height * scale)))
            image = image.resize(new, Image.Resampling.BILINEAR)
        width, height = image.size
        left, top = (width - size) // 2, (height - size) // 2
        image = image.crop((left, top, left + size, top + size))
    return np.asarray(image, dtype=np.uint8)


class DecodeCache:
    """Decoded images by path, at one ``size`` and ``mode``, within ``max_bytes`` of memory.

    Arguments:
        size: side of the square arrays (None: native size, no crop).
        mode: ``"RGB"`` or ``"L"`` (grayscale).
        max_bytes: memory budget of the in-memory LRU (0 disables it).
        disk_dir: folder for the on-disk cache (None: no disk cache). Files are named by a hash
            of (absolute path, file size, mtime, size, mode), so an edited image is re-decoded.

    Attributes: ``hits``, ``misses`` (memory), ``disk_hits``, ``nbytes`` (memory in use).

    Example:
        >>> cache = DecodeCache(size=84, max_bytes=64 * 2**20, disk_dir="~/.cache/fewshot/images")
        >>> cache.get("photos/cat/1.jpg").shape
        (84, 84, 3)
    """

    def __init__(
        self,
        size: int | None = None,
        mode: str = "RGB",
        max_bytes: int = DEFAULT_MAX_BYTES,
        disk_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
            raise DatasetError(f"DecodeCache: `size` must be a positive int or None, got {size!r}")
        if mode not in ("RGB", "L"):
            raise DatasetError(f"DecodeCache: `mode` must be 'RGB' or 'L', got {mode!r}")
        if max_bytes < 0:
            raise DatasetError(f"DecodeCache: `max_bytes` must be >= 0, got {max_bytes}")
        self.size, self.mode, self.max_bytes = size, mode, int(max_bytes)
        self.disk_dir = None if disk_dir is None else Path(disk_dir).expanduser()
        self._memory: OrderedDict[str, np.ndarray] = OrderedDict()
        self.nbytes = 0
        self.hits = self.misses = self.disk_hits = 0

    def get(self, path: str | os.PathLike[str]) -> np.ndarray:
        """The decoded image of ``path`` (read-only array; copy before editing it)."""
        key = os.fspath(path)
        cached = self._memory.get(key)
        if cached is not None:
            self._memory.move_to_end(key)
            self.hits += 1
            return cached
        self.misses += 1
        array = self._from_disk(key)
        if array is None:
            array = decode_image(key, self.size, self.mode)
            self._to_disk(key, array)
        array.setflags(write=False)
        self._remember(key, array)
        return array

    def get_many(self, paths: list[str]) -> list[np.ndarray]:
        """``[get(p) for p in paths]``."""
        return [self.get(p) for p in paths]

    def clear(self) -> None:
        """Forget the arrays held in memory (the disk cache stays)."""
        self._memory.clear()
        self.nbytes = 0

    def _remember(self, key: str, array: np.ndarray) -> None:
        if array.nbytes > self.max_bytes:
            return
        self._memory[key] = array
        self.nbytes += array.nbytes
        while self.nbytes > self.max_bytes:
            _, dropped = self._memory.popitem(last=False)
            self.nbytes -= dropped.nbytes

    def _disk_path(self, key: str) -> Path | None:
        if self.disk_dir is None:
            return None
        try:
            stat = os.stat(key)
        except OSError:
            return None  # decode_image reports the missing file
        tag = f"{os.path.abspath(key)}|{stat.st_size}|{stat.st_mtime_ns}|{self.size}|{self.mode}"
        digest = hashlib.sha256(f"v{DISK_VERSION}|{tag}".encode()).hexdigest()
        return self.disk_dir / digest[:2] / f"{digest[2:34]}.npy"

    def _from_disk(self, key: str) -> np.ndarray | None:
        path = self._disk_path(key)
        if path is None or not path.is_file():
            return None
        try:
            array = np.load(path, allow_pickle=False)
        except (OSError, ValueError):  # a torn or foreign file: decode again
            return None
        self.disk_hits += 1
        return array

    def _to_disk(self, key: str, array: np.ndarray) -> None:
        path = self._disk_path(key)
        if path is not None:  # a read-only or full cache only costs a re-decode next time
            save_npy_best_effort(path, array)
