"""Heads and domain adaptation in training: balanced siamese pairs drawn from episodes, a siamese
head saved beside the encoder and scored by `fewshot evaluate --head siamese`, a projection
head on a frozen pre-trained encoder, and DANN (gradient reversal, Ganin et al.'s λ schedule,
a domain classifier trained beside the episodic loss on unlabelled target data)."""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest
import torch

from episodes.cli import main
from episodes.config import TrainConfig
from episodes.evaluate_data import evaluate_data
from episodes.head_files import load_head
from episodes.learners import siamese_pairs
from episodes.sampler import EpisodeSampler
from episodes.train import train
from fewshot.encoders import load_encoder
from fewshot.heads import DomainClassifier, SiameseHead, build_head, dann_lambda, grad_reverse


def test_siamese_pairs_are_balanced_and_labelled_right():
    labels = np.repeat(np.arange(6), 4)
    episode = EpisodeSampler(labels, 5, 2, 1, n_episodes=1, seed=0)[0]
    first, second, same = siamese_pairs(episode, np.random.default_rng(0), torch.device("cpu"))
    items = np.concatenate([episode.support.ravel(), episode.query.ravel()])
    episode_label = np.concatenate([episode.support_labels(), episode.query_labels()])
    assert len(first) == 2 * items.size and same.sum() == items.size  # half same, half not
    assert (first != second).all()  # never an item with itself
    matches = episode_label[first.numpy()] == episode_label[second.numpy()]
    np.testing.assert_array_equal(matches, same.numpy().astype(bool))


def test_siamese_training_saves_the_head_that_evaluate_scores_with(ticket_csv, tmp_path):
    config = TrainConfig(data_root="unused", out=str(tmp_path), data=[str(ticket_csv)],
                         init="minilm", train_blocks=0, head="siamese", n_way=5, k_shot=1,
                         q_query=3, episodes=6, val_every=3, val_episodes=10, seed=0)  # fmt: skip
    summary = train(config, progress=False)
    assert summary["head"] == "siamese" and [h["episode"] for h in summary["history"]] == [0, 3, 6]
    head = load_head(tmp_path / "best")
    assert isinstance(head, SiameseHead) and head.dim == 384
    report = evaluate_data(ticket_csv, tmp_path / "best", head="siamese", n_way=5, k_shot=1,
                           q_query=3, n_episodes=10)  # fmt: skip
    assert report["protocol"]["head"]["type"] == "siamese" and report["accuracy"]["mean"] > 0.2


def test_a_projection_on_frozen_features_is_a_small_partial_checkpoint(ticket_csv, tmp_path):
    config = TrainConfig(data_root="unused", out=str(tmp_path), data=[str(ticket_csv)],
                         init="minilm", projection=32, n_way=5, k_shot=1, q_query=3,
                         episodes=4, val_every=4, val_episodes=4, seed=0)  # fmt: skip
    train(config, progress=False)
    saved = json.loads((tmp_path / "best" / "encoder.json").read_text())
    assert saved["blocks"] == ["projection"] and saved["projection"] == {
        "in_dim": 384,
        "out_dim": 32,
    }
    encoder = load_encoder(tmp_path / "best")
    base = load_encoder("minilm")
    texts = ["where is my card", "I want a refund"]
    linear = encoder.module.projection
    expected = base.embed(texts) @ linear.weight.detach().numpy().T + linear.bias.detach().numpy()
    np.testing.assert_allclose(encoder.embed(texts), expected, rtol=1e-4, atol=1e-5)


def test_gradient_reversal_and_the_lambda_schedule():
    x = torch.ones(3, requires_grad=True)
    (grad_reverse(x, 0.25) * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    torch.testing.assert_close(x.grad, torch.tensor([-0.25, -0.5, -0.75]))
    values = [dann_lambda(p) for p in np.linspace(0, 1, 11)]
    assert values[0] == 0.0 and values[-1] > 0.9999 and values == sorted(values)
    assert dann_lambda(0.5) == pytest.approx(2 / (1 + np.exp(-5)) - 1)
    domain = DomainClassifier(8, hidden=4)
    rebuilt = build_head(domain.spec)
    assert isinstance(rebuilt, DomainClassifier) and rebuilt.spec == {"type": "domain", "dim": 8,
                                                                      "hidden": 4}  # fmt: skip
    source, target = torch.randn(5, 8), torch.randn(7, 8)
    loss = domain.loss(domain(source), domain(target))
    assert loss.ndim == 0 and 0.0 <= float(domain.accuracy(domain(source), domain(target))) <= 1


def test_dann_on_texts_trains_the_domain_classifier_beside_the_episodes(ticket_csv, intent_csv,
                                                                         tmp_path):  # fmt: skip
    targets = tmp_path / "target.txt"  # unlabelled target-domain texts, one per line
    with open(intent_csv, newline="", encoding="utf-8") as handle:
        targets.write_text("\n".join(row["text"] for row in csv.DictReader(handle)))
    config = TrainConfig(data_root="unused", out=str(tmp_path / "run"), data=[str(ticket_csv)],
                         target_data=str(targets), init="minilm", train_blocks=1, n_way=5,
                         k_shot=1, q_query=3, episodes=4, val_every=2, val_episodes=4, seed=0)  # fmt: skip
    summary = train(config, progress=False)
    assert summary["dann"] and all("domain_acc" in h for h in summary["history"][1:])
    state = json.loads((tmp_path / "run" / "state" / "train_state.json").read_text())
    assert state["episode"] == 4


def test_dann_on_images_reads_a_flat_folder_of_target_images(glyph_folder, tmp_path, capsys):
    flat = tmp_path / "target"
    flat.mkdir()
    for n, png in enumerate(sorted(glyph_folder.rglob("*.png"))[:12]):
        shutil.copy(png, flat / f"{n}.png")  # no class folders: unlabelled
    argv = ["train", "--data", str(glyph_folder), "--target-data", str(flat), "--hidden", "8",
            "--ways", "4", "--shots", "1", "--queries", "2", "--episodes", "2", "--val-episodes",
            "2", "--seed", "0", "--out", str(tmp_path / "run"), "--quiet", "--device", "cpu"]  # fmt: skip
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["dann"] and summary["trunk"]["kind"] == "image"
