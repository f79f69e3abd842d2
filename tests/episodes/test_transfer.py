"""Transfer learning in `fewshot train`: start from the shipped encoder, freeze its first stages
(weights and BatchNorm statistics) or train only a projection, and save a loadable encoder."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from episodes.train import TrainConfig, train
from episodes.transfer import initial_backbone
from fewshot.encoders import load_encoder, save_checkpoint, wrap_module
from fewshot.encoders.backbones import Conv4
from fewshot.encoders.omniglot import omniglot_preprocess
from fewshot.errors import InputError

ALPHABETS = ["Greek", "Latin", "Braille"]
GLYPHS = [np.full((105, 105), 255, np.uint8), np.eye(105, dtype=np.uint8) * 255]


def transfer_config(omniglot_root, cache_dir, out, **over) -> TrainConfig:
    base = dict(
        data_root=str(omniglot_root), out=str(out), cache_dir=str(cache_dir), alphabets=ALPHABETS,
        image_size=28, n_way=5, k_shot=1, q_query=2, episodes=6, lr=1e-2, val_way=5,
        val_shot=1, val_query=2, val_episodes=4, val_every=3, seed=0, device="cpu", threads=2,
        init="omniglot-conv4",
    )  # fmt: skip
    base.update(over)
    return TrainConfig(**base)


def shipped_state() -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in load_encoder("omniglot-conv4").module.state_dict().items()}


def test_frozen_stages_keep_weights_and_statistics(omniglot_root, cache_dir, tmp_path):
    config = transfer_config(omniglot_root, cache_dir, tmp_path, freeze_stages=2)
    summary = train(config, progress=False)
    before = shipped_state()
    state = load_file(str(tmp_path / "state" / "train_state.safetensors"))  # the trained network
    after = {k.removeprefix("model."): v for k, v in state.items() if k.startswith("model.")}
    assert summary["episodes_done"] == 6
    if summary["best_episode"] == 0:  # the start won on validation: RUN/best is it, untouched
        best = load_encoder(tmp_path / "best").module.state_dict()
        for key, value in before.items():
            torch.testing.assert_close(best[key], value, rtol=0, atol=0, msg=key)
    for key, value in before.items():
        stage = int(key.split(".")[1])  # encoder.<stage>.<layer>.<param>
        if key.endswith("num_batches_tracked"):
            continue
        if stage < 2:  # conv weights, BN affine and BN running statistics all untouched
            torch.testing.assert_close(after[key], value, rtol=0, atol=0, msg=key)
        elif key.endswith(".weight"):
            assert not torch.equal(after[key], value), f"{key} was not fine-tuned"


def test_starts_from_the_encoder_not_from_scratch(omniglot_root, cache_dir, tmp_path):
    summary = train(
        transfer_config(omniglot_root, cache_dir, tmp_path, freeze_stages=3), progress=False
    )
    scratch = train(
        transfer_config(omniglot_root, cache_dir, tmp_path / "scratch", init=None, freeze_stages=3),
        progress=False,
    )
    # validated before the first step: the shipped features, far better than random ones
    assert summary["history"][0]["val_acc"] > scratch["history"][0]["val_acc"] + 0.3


def test_projection_only_trains_a_linear_map(omniglot_root, cache_dir, tmp_path):
    config = transfer_config(omniglot_root, cache_dir, tmp_path, projection=16)
    train(config, progress=False)
    encoder = load_encoder(tmp_path / "best")
    assert encoder.dim == 16 and encoder.architecture == "projected"
    base = load_encoder("omniglot-conv4")
    features = base.embed(GLYPHS)
    linear = encoder.module.projection
    expected = features @ linear.weight.detach().numpy().T + linear.bias.detach().numpy()
    np.testing.assert_allclose(encoder.embed(GLYPHS), expected, rtol=1e-4, atol=1e-5)


def test_larger_images_reuse_the_conv_weights(omniglot_root, cache_dir, tmp_path):
    module, architecture, kwargs = initial_backbone("omniglot-conv4", image_size=56)
    assert architecture == "conv4" and kwargs["image_size"] == 56 and module.out_dim == 64 * 9
    shipped = shipped_state()
    for key, value in module.state_dict().items():
        torch.testing.assert_close(value, shipped[key])


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"freeze_stages": 5}, r"cannot freeze 5 stages, this Conv4 has 4; pass 0..4"),
        ({"freeze_stages": 4}, "nothing to train; freeze fewer stages"),
    ],
)
def test_bad_transfer_settings_are_named(omniglot_root, cache_dir, tmp_path, over, message):
    with pytest.raises(InputError, match=message):
        train(transfer_config(omniglot_root, cache_dir, tmp_path, **over), progress=False)


def test_rgb_encoder_is_refused_with_the_reason(tmp_path):
    rgb = wrap_module(
        Conv4(in_channels=3),
        preprocess=omniglot_preprocess(28),
        architecture="conv4",
        architecture_kwargs={"in_channels": 3},
        dim=64,
    )
    save_checkpoint(rgb, tmp_path / "rgb")
    with pytest.raises(InputError, match="3-channel images"):
        initial_backbone(str(tmp_path / "rgb"), image_size=28)
