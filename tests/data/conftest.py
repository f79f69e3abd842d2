"""Generated RGB JPEG folders for the data tests (the real Omniglot glyph folder is the root
conftest's ``glyph_folder``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image


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
