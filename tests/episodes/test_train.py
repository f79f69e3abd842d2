"""A short real ProtoNet run on a few Omniglot alphabets: it learns, saves a loadable encoder,
reports what it did, and resumes exactly where it stopped."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from episodes.train import TrainConfig, train
from fewshot.encoders import load_encoder

ALPHABETS = ["Greek", "Latin", "Braille", "Futurama", "Korean"]


def small_config(omniglot_root, cache_dir, out, **over) -> TrainConfig:
    base = dict(
        data_root=str(omniglot_root), out=str(out), cache_dir=str(cache_dir),
        alphabets=ALPHABETS, image_size=28, n_way=10, k_shot=1, q_query=2, episodes=60,
        lr=3e-3, lr_step=1000, val_way=5, val_shot=1, val_query=3, val_episodes=30,
        val_every=30, seed=0, device="cpu", threads=2, within_alphabet=0.5,
    )  # fmt: skip
    base.update(over)
    return TrainConfig(**base)


@pytest.fixture(scope="module")
def trained(omniglot_root, cache_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    cfg = small_config(omniglot_root, cache_dir, out)
    return cfg, train(cfg, progress=False)


def test_short_run_improves_validation_accuracy(trained):
    cfg, summary = trained
    assert json.loads((Path(cfg.out) / "summary.json").read_text()) == summary
    history = summary["history"]
    assert [h["episode"] for h in history] == [0, 30, 60]
    assert history[-1]["val_acc"] > history[0]["val_acc"] + 0.15, history
    assert summary["best_val_acc"] == max(h["val_acc"] for h in history[1:])
    assert summary["images_per_second"] > 0


def test_best_checkpoint_loads_as_encoder(trained, omniglot_root):
    cfg, summary = trained
    enc = load_encoder(f"{cfg.out}/best", device="cpu")
    assert enc.dim == 64
    meta = json.loads((Path(cfg.out) / "best" / "encoder.json").read_text())
    assert meta["architecture"] == "conv4"
    assert meta["extra"]["training"]["seed"] == 0
    assert meta["extra"]["training"]["metric"] == "euclidean"  # fewshot.metrics' name
    assert meta["extra"]["val_acc"] == summary["best_val_acc"]
    x = [np.full((105, 105), 255, np.uint8), np.zeros((105, 105), np.uint8)]
    z = enc.embed(x)
    assert z.shape == (2, 64) and z.dtype == np.float32 and not np.allclose(z[0], z[1])


def test_resume_continues_exactly(omniglot_root, cache_dir, tmp_path):
    straight = small_config(omniglot_root, cache_dir, tmp_path / "a", episodes=8, val_every=4,
                            val_episodes=2)  # fmt: skip
    train(straight, progress=False)
    first = small_config(omniglot_root, cache_dir, tmp_path / "b", episodes=4, val_every=4,
                         val_episodes=2)  # fmt: skip
    train(first, progress=False)
    second = small_config(omniglot_root, cache_dir, tmp_path / "b", episodes=8, val_every=4,
                          val_episodes=2)  # fmt: skip
    resumed_from = json.loads((tmp_path / "b" / "summary.json").read_text())
    summary = train(second, resume=True, progress=False)
    assert [h["episode"] for h in summary["history"]] == [0, 4, 8]
    # training time and wall clock add up across the two segments
    assert summary["train_seconds"] > resumed_from["train_seconds"] > 0
    assert summary["history"][-1]["elapsed_s"] >= resumed_from["history"][-1]["elapsed_s"]
    a = load_file(str(tmp_path / "a" / "state" / "train_state.safetensors"))
    b = load_file(str(tmp_path / "b" / "state" / "train_state.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5, msg=k)


def test_training_with_held_out_alphabets_runs_and_records_it(omniglot_root, cache_dir, tmp_path):
    cfg = small_config(omniglot_root, cache_dir, tmp_path, val_alphabets=2, episodes=4,
                       val_every=4, val_episodes=3)  # fmt: skip
    summary = train(cfg, progress=False)
    assert [h["episode"] for h in summary["history"]] == [0, 4]
    saved = json.loads((tmp_path / "best" / "encoder.json").read_text())
    assert saved["extra"]["training"]["val_alphabets"] == 2


def test_stop_at_validates_and_a_resume_finishes_the_schedule(
    omniglot_root, cache_dir, tmp_path, capsys
):
    cfg = small_config(omniglot_root, cache_dir, tmp_path, episodes=8, val_every=100,
                       val_episodes=2, stop_at=4)  # fmt: skip
    summary = train(cfg, progress=False)
    assert summary["stopped_early"] and summary["episodes_done"] == 4
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["episode"] for r in printed] == [0, 4]  # one JSON line per validation
    finish = small_config(omniglot_root, cache_dir, tmp_path, episodes=8, val_every=100,
                          val_episodes=2)  # fmt: skip
    summary = train(finish, resume=True, progress=False)
    assert not summary["stopped_early"] and [h["episode"] for h in summary["history"]] == [0, 4, 8]
    assert summary["history"][-1]["lr"] == 3e-3  # lr_step 1000: no decay within 8 episodes
