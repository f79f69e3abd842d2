"""The trained network: one-channel backbones built from the config, the same embeddings in
either memory layout, and an exported encoder that embeds glyphs exactly as the network did."""

from __future__ import annotations

import numpy as np
import torch

from episodes.config import TrainConfig
from episodes.network import build_model, embed, save_encoder
from fewshot.encoders import load_encoder
from fewshot.encoders.omniglot import ink


def config(**over) -> TrainConfig:
    return TrainConfig(data_root="unused", out="unused", device="cpu", **over)


def test_backbones_take_one_channel_images_of_the_configured_size():
    model, architecture, kwargs, frozen = build_model(config(image_size=56))
    assert architecture == "conv4" and frozen == []
    assert kwargs == {"in_channels": 1, "hidden": 64, "image_size": 56}
    assert model(torch.zeros(2, 1, 56, 56)).shape == (2, 64 * 9)
    small = config(backbone_kwargs={"hidden": 8})
    assert build_model(small)[0](torch.zeros(2, 1, 28, 28)).shape == (2, 8)
    resnet = config(backbone="resnet12", backbone_kwargs={"widths": [4, 4, 4, 6]})
    model, architecture, kwargs, _ = build_model(resnet)
    assert architecture == "resnet12" and kwargs == {"in_channels": 1, "widths": [4, 4, 4, 6]}
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 6)


def test_channels_last_changes_speed_not_embeddings():
    torch.manual_seed(0)
    model = build_model(config(backbone_kwargs={"hidden": 8}))[0].eval()
    x = torch.rand(3, 1, 28, 28)
    with torch.no_grad():
        plain = embed(model, x, config(channels_last=False))
        last = embed(model.to(memory_format=torch.channels_last), x, config())
    assert plain.shape == (3, 8) and plain.dtype == torch.float32
    torch.testing.assert_close(last, plain, rtol=1e-5, atol=1e-6)


def test_saved_encoder_embeds_glyphs_as_the_network_does(tmp_path):
    torch.manual_seed(0)
    cfg = config(backbone_kwargs={"hidden": 8})
    model, architecture, kwargs, _ = build_model(cfg)
    model.to(memory_format=torch.channels_last)
    save_encoder(model, architecture, kwargs, cfg, tmp_path / "best", {"episode": 3})
    encoder = load_encoder(tmp_path / "best", device="cpu")
    assert encoder.dim == 8 and model.training  # exported from a copy: training goes on
    glyphs = np.random.default_rng(0).integers(0, 256, (4, 28, 28)).astype(np.uint8)
    with torch.no_grad():
        expected = model.eval()(ink(torch.from_numpy(glyphs))).numpy()
    np.testing.assert_allclose(encoder.embed(list(glyphs)), expected, rtol=1e-4, atol=1e-5)
