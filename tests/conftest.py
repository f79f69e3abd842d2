"""Shared fixtures: where the real benchmark data lives (env FEWSHOT_DATA, else ../shared/data)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def data_root() -> Path:
    """The shared data folder: ``$FEWSHOT_DATA`` or ``<repo>/../shared/data``."""
    return Path(os.environ.get("FEWSHOT_DATA") or REPO.parent / "shared" / "data")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    root = data_root()
    if not root.is_dir():
        pytest.skip(f"shared data not found at {root}; set FEWSHOT_DATA")
    return root


@pytest.fixture(scope="session")
def omniglot_root(shared_data: Path) -> Path:
    root = shared_data / "omniglot"
    if not (root / "images_background.zip").is_file():
        pytest.skip(f"Omniglot zips not found under {root}")
    return root


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One decode cache for the whole test session."""
    return tmp_path_factory.mktemp("fewshot-cache")
