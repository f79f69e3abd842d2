"""Saved stores, encoder checkpoints and training runs get the permissions a plain ``open()``
would give (0o666 minus the umask), so another user or a service account can read them and a
wheel built from them installs readable files; safetensors alone leaves its files 0o600."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

import fewshot
from episodes.head_files import save_head
from fewshot.encoders import save_checkpoint
from fewshot.heads import SiameseHead


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def modes(folder: Path) -> dict[str, int]:
    return {
        str(path.relative_to(folder)): stat.S_IMODE(path.stat().st_mode)
        for path in folder.rglob("*")
        if path.is_file()
    }


def test_a_saved_classifier_is_readable_by_others(tmp_path, umask_022):
    clf = fewshot.FewShotClassifier(encoder=None)
    rng = np.random.default_rng(0)
    clf.register("a", rng.normal(size=(3, 8)).astype(np.float32))
    clf.register("b", rng.normal(size=(2, 8)).astype(np.float32))
    clf.save(tmp_path / "store")
    found = modes(tmp_path / "store")
    assert any(name.endswith(".safetensors") for name in found)
    assert set(found.values()) == {0o644}, found


def test_checkpoints_and_heads_are_readable_by_others(tmp_path, umask_022):
    encoder = fewshot.load_encoder("omniglot-conv4", device="cpu")
    with torch.no_grad():
        next(encoder.module.parameters()).add_(0.01)  # a trained copy: written whole
    save_checkpoint(encoder, tmp_path / "ckpt")
    save_head(SiameseHead(dim=64), tmp_path / "ckpt")
    found = modes(tmp_path / "ckpt")
    assert {"model.safetensors", "head.safetensors", "encoder.json"} <= set(found)
    assert set(found.values()) == {0o644}, found
