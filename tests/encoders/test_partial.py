"""Partial checkpoints: the base by name plus only the trained tensors, megabytes not the network;
loads rebuild the base, check every stored tensor and the untouched rest, and refuse tampering."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

import fewshot
from fewshot.durable import sha256_file
from fewshot.encoders import plan_blocks, save_checkpoint
from fewshot.errors import InputError, StoreFormatError

TEXTS = ["I lost my card", "how do I reset my pin", "will it rain tomorrow", "refund please"]


@pytest.fixture(scope="module")
def photos() -> list[np.ndarray]:
    from sklearn.datasets import load_sample_images

    images = load_sample_images().images
    return [image[y : y + 240, x : x + 240] for image in images for (y, x) in [(0, 0), (150, 200)]]


def train_a_little(encoder, count, batch) -> fewshot.TorchEncoder:
    """A copy of ``encoder`` whose last ``count`` blocks took two real optimiser steps."""
    tuned = copy.deepcopy(encoder)
    plan = plan_blocks(tuned, count)
    optimizer = torch.optim.AdamW(plan.parameters(), lr=1e-3)
    for _ in range(2):
        plan.train()
        loss = -torch.nn.functional.normalize(plan.forward(batch), dim=1).sum(0).norm()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    plan.freeze()
    tuned.spec = {**tuned.spec, "finetuned": {"test": True}}
    return tuned


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def test_efficientnet_stores_only_its_trained_blocks(tmp_path, effnet, photos):
    tuned = train_a_little(effnet, 2, effnet.preprocess(photos))
    save_checkpoint(tuned, tmp_path / "half")  # auto: float16 for EfficientNet-Lite0
    save_checkpoint(tuned, tmp_path / "single", dtype="float32")
    config = json.loads((tmp_path / "half" / "encoder.json").read_text())
    assert config["format_version"] == 2 and config["base"] == {"name": "efficientnet-lite0"}
    assert config["blocks"] == ["blocks.15", "head"] and config["dtype"] == "float16"
    stored = load_file(str(tmp_path / "half" / "model.safetensors"))
    assert all(
        n.startswith(("network._blocks.15.", "network._conv_head", "network._bn1")) for n in stored
    )
    size = (tmp_path / "half" / "model.safetensors").stat().st_size
    assert size < 2.5e6  # the whole network is 13.4 MB in float32
    exact = fewshot.load_encoder(tmp_path / "single")
    half = fewshot.load_encoder(tmp_path / "half")
    np.testing.assert_allclose(exact.embed(photos), tuned.embed(photos), atol=1e-6)
    assert cosine(half.embed(photos), tuned.embed(photos)).min() > 0.999
    base = effnet.module.state_dict()
    for name, value in half.module.state_dict().items():  # frozen blocks: BN statistics too
        if not name.startswith(("network._blocks.15.", "network._conv_head", "network._bn1")):
            assert torch.equal(value, base[name]), name
    assert half.spec["finetuned"] == {"test": True} and "checkpoint" in half.spec


def test_minilm_checkpoint_costs_megabytes(tmp_path, minilm):
    tuned = train_a_little(minilm, 1, minilm.preprocess(TEXTS))
    save_checkpoint(tuned, tmp_path / "ckpt")
    config = json.loads((tmp_path / "ckpt" / "encoder.json").read_text())
    assert config["blocks"] == ["layer.5"] and config["base"] == {"name": "minilm"}
    assert (tmp_path / "ckpt" / "model.safetensors").stat().st_size < 4e6  # MiniLM: 90 MB
    loaded = fewshot.load_encoder(tmp_path / "ckpt")
    assert cosine(loaded.embed(TEXTS), tuned.embed(TEXTS)).min() > 0.999
    assert not np.allclose(loaded.embed(TEXTS), minilm.embed(TEXTS), atol=1e-4)


def test_tampered_partial_checkpoints_are_refused(tmp_path, effnet, photos):
    tuned = train_a_little(effnet, 1, effnet.preprocess(photos[:2]))
    folder = tmp_path / "ckpt"
    weights, config_path = folder / "model.safetensors", folder / "encoder.json"

    def rewrite(tensors=None, **fields) -> None:
        save_checkpoint(tuned, folder, dtype="float32")
        config = json.loads(config_path.read_text())
        if tensors is not None:
            save_file(tensors, str(weights))
            config["files"]["model.safetensors"] = sha256_file(weights)
        config.update(fields)
        config_path.write_text(json.dumps(config))

    rewrite()
    stored = load_file(str(weights))
    outside = {**stored, "network._bn0.running_mean": torch.zeros(32)}  # a frozen block's
    rewrite(outside)
    with pytest.raises(StoreFormatError, match="not a tensor of the listed blocks"):
        fewshot.load_encoder(folder)
    wrong = dict(stored)
    wrong["network._bn1.weight"] = torch.zeros(7)
    rewrite(wrong)
    with pytest.raises(StoreFormatError, match=r"network\._bn1\.weight"):
        fewshot.load_encoder(folder)
    rewrite(base_sha256="0" * 64)
    with pytest.raises(StoreFormatError, match="not the network this checkpoint was trained from"):
        fewshot.load_encoder(folder)
    rewrite(base={"name": "sentence-transformers", "path": "/", "sha256": "0" * 64})
    with pytest.raises(InputError, match="missing or changed"):  # "/" is never hashed whole
        fewshot.load_encoder(folder)
    rewrite(base="efficientnet-lite0")
    with pytest.raises(StoreFormatError, match="'base'"):
        fewshot.load_encoder(folder)
    rewrite()
    weights.write_bytes(weights.read_bytes()[:-4] + b"oops")
    with pytest.raises(StoreFormatError, match="checksum"):
        fewshot.load_encoder(folder)


def test_torchvision_base_is_named_by_its_weights_file(tmp_path: Path):
    import torchvision

    torch.manual_seed(0)
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), tmp_path / "r18.pth")
    encoder = fewshot.load_encoder("resnet18", weights=tmp_path / "r18.pth")
    image = [np.full((64, 64, 3), 200, np.uint8), np.eye(64, dtype=np.uint8) * 255]
    tuned = train_a_little(encoder, 1, encoder.preprocess(image))
    save_checkpoint(tuned, tmp_path / "ckpt", dtype="float32")
    config = json.loads((tmp_path / "ckpt" / "encoder.json").read_text())
    assert config["base"]["arch"] == "resnet18" and len(config["base"]["weights_sha256"]) == 64
    assert config["blocks"] == ["layer4"]
    (tmp_path / "r18.pth").rename(tmp_path / "moved.pth")
    with pytest.raises(InputError, match="pass weights=PATH"):
        fewshot.load_encoder(tmp_path / "ckpt")
    loaded = fewshot.load_encoder(tmp_path / "ckpt", weights=tmp_path / "moved.pth")
    np.testing.assert_allclose(loaded.embed(image), tuned.embed(image), atol=1e-5)
    full = save_checkpoint(tuned, tmp_path / "full", partial=False)  # every tensor, format 1
    assert json.loads((full / "encoder.json").read_text())["format_version"] == 1
    np.testing.assert_allclose(
        fewshot.load_encoder(full).embed(image), tuned.embed(image), atol=1e-5
    )
