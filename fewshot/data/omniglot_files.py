"""Omniglot's upstream files: pinned URLs and md5s, download, layout checks, and the decode cache.

Images are decoded once per (zip, size) into a ``uint8`` array kept on disk (``.npy``) and in
memory, in the original polarity (ink 0, paper 255).
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
import urllib.request
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from fewshot.durable import save_npy_best_effort

BACKGROUND_URL = (
    "https://raw.githubusercontent.com/brendenlake/omniglot/master/python/images_background.zip"
)
EVALUATION_URL = (
    "https://raw.githubusercontent.com/brendenlake/omniglot/master/python/images_evaluation.zip"
)
#: md5 of the upstream zips, as torchvision checks them. Local copies are verified by layout.
UPSTREAM_MD5 = {
    "images_background": "68d2efa1b9178cc56df9314c21c6e718",
    "images_evaluation": "6b91aef0f799c5bb55b94e3f2daec811",
}
UPSTREAM_URL = {"images_background": BACKGROUND_URL, "images_evaluation": EVALUATION_URL}
#: (alphabets, characters, images) each upstream zip must hold.
EXPECTED_COUNTS = {"images_background": (30, 964, 19280), "images_evaluation": (20, 659, 13180)}
CACHE_VERSION = 2

_PNG = re.compile(
    r"^(images_background|images_evaluation)/([^/]+)/(character\d+)/(\d{4})_(\d{2})\.png$"
)
_MEMORY: dict[tuple[str, str, int], tuple[np.ndarray, list[str]]] = {}


def clear_memory_cache() -> None:
    """Forget the decoded arrays held in this process (the disk cache stays)."""
    _MEMORY.clear()


def ensure_zip(root: Path, stem: str, download: bool) -> Path:
    """The zip ``stem`` under ``root``, downloaded and md5-checked first when asked to."""
    path = root / f"{stem}.zip"
    if path.is_file():
        return path
    if not download:
        raise FileNotFoundError(
            f"Omniglot: {path} not found; pass download=True to fetch {UPSTREAM_URL[stem]} "
            "or point `root` at a folder holding the upstream zips"
        )
    root.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=root, suffix=".part")
    os.close(fd)
    try:
        urllib.request.urlretrieve(UPSTREAM_URL[stem], tmp)
        digest = md5_of(tmp)
        if digest != UPSTREAM_MD5[stem]:
            raise OSError(
                f"Omniglot: {UPSTREAM_URL[stem]} has md5 {digest}, expected "
                f"{UPSTREAM_MD5[stem]}; the download is corrupt or the file changed upstream"
            )
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def md5_of(path: str | os.PathLike) -> str:
    """Hex md5 of a file, read in 1 MiB blocks."""
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify_layout(names: Sequence[str], stem: str) -> list[str]:
    """PNG members of an Omniglot zip, sorted, after checking its layout and counts.

    A local copy may be repacked (other zip checksum, same PNGs), so it is verified by
    structure: ``stem/ALPHABET/characterNN/NNNN_DD.png``, the expected alphabet, character
    and image counts, and 20 drawers per character.
    """
    pngs = sorted(n for n in names if n.endswith(".png"))
    per_char: dict[tuple[str, str], int] = {}
    for n in pngs:
        m = _PNG.match(n)
        if m is None or m.group(1) != stem:
            raise ValueError(
                f"Omniglot: unexpected member {n!r} in {stem}.zip (not the upstream layout)"
            )
        key = (m.group(2), m.group(3))
        per_char[key] = per_char.get(key, 0) + 1
    counts = (len({a for a, _ in per_char}), len(per_char), len(pngs))
    if counts != EXPECTED_COUNTS[stem]:
        raise ValueError(
            f"Omniglot: {stem}.zip holds (alphabets, characters, images) = {counts}, expected "
            f"{EXPECTED_COUNTS[stem]}; the copy is incomplete or not Omniglot"
        )
    short = sorted(k for k, v in per_char.items() if v != 20)
    if short:
        raise ValueError(f"Omniglot: characters without 20 drawings in {stem}.zip: {short[:5]}")
    return pngs


def load_zip(zip_path: Path, stem: str, size: int, cache: Path) -> tuple[np.ndarray, list[str]]:
    """uint8 images (M×S×S) and member paths of one zip, decoded once and cached on disk."""
    stat = zip_path.stat()
    key = (str(zip_path.resolve()), stem, size)
    if key in _MEMORY:
        return _MEMORY[key]
    with zipfile.ZipFile(zip_path) as zf:
        pngs = verify_layout(zf.namelist(), stem)
        tag = hashlib.sha256("\n".join(pngs).encode() + f"{stat.st_size}".encode()).hexdigest()[:16]
        npy = cache / f"omniglot-{stem}-{size}-v{CACHE_VERSION}-{tag}.npy"
        if npy.is_file():
            images = np.load(npy, allow_pickle=False)
        else:
            images = np.empty((len(pngs), size, size), dtype=np.uint8)
            for i, name in enumerate(pngs):
                images[i] = decode_png(zf.read(name), size)
            save_npy_best_effort(npy, images)
    result = (images, [p.removesuffix(".png") for p in pngs])
    _MEMORY[key] = result
    return result


def decode_png(data: bytes, size: int) -> np.ndarray:
    """One PNG → uint8 grayscale size×size (ink 0, paper 255).

    Resized like ``fewshot.encoders.ImagePreprocess(mode="L")`` (bilinear, antialiased), so
    an encoder sees the same pixels whether it reads this cache or the PNG itself.
    """
    with Image.open(io.BytesIO(data)) as im:
        gray = im.convert("L")
        if gray.size != (size, size):
            gray = gray.resize((size, size), Image.Resampling.BILINEAR)
        return np.asarray(gray, dtype=np.uint8)
