"""Small real image folders for the data and evaluation tests: Omniglot PNGs copied out of
the evaluation zip (8 Kannada characters × 20 drawers), and generated RGB JPEGs."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def omniglot_folder(
    omniglot_root: Path, target: Path, alphabet: str = "Kannada", n: int = 8
) -> Path:
    """``target/<character>/<file>.png`` for the first ``n`` characters of ``alphabet``."""
    with zipfile.ZipFile(omniglot_root / "images_evaluation.zip") as zf:
        members = sorted(m for m in zf.namelist() if f"/{alphabet}/" in m and m.endswith(".png"))
        chars = sorted({m.split("/")[2] for m in members})[:n]
        for m in members:
            if m.split("/")[2] in chars:
                out = target / m.split("/")[2] / m.rsplit("/", 1)[1]
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(zf.read(m))
    return target


@pytest.fixture(scope="session")
def glyph_folder(omniglot_root, tmp_path_factory) -> Path:
    return omniglot_folder(omniglot_root, tmp_path_factory.mktemp("glyphs"))


@pytest.fixture
def photo_folder(tmp_path) -> Path:
    """3 classes × 6 RGB JPEGs of different sizes, each class its own colour."""
    rng = np.random.default_rng(0)
    for c, colour in enumerate([(200, 30, 30), (30, 200, 30), (30, 30, 200)]):
        folder = tmp_path / "photos" / f"class_{c}"
        folder.mkdir(parents=True)
        for i in range(6):
            h, w = 40 + 7 * i, 60 - 3 * i
            pixels = np.clip(np.array(colour) + rng.integers(-20, 20, (h, w, 3)), 0, 255)
            Image.fromarray(pixels.astype(np.uint8)).save(folder / f"{i:02d}.jpg")
    return tmp_path / "photos"
