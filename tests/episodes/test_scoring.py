"""Scoring one episode: siamese pair probabilities reduced per class, transductive choices,
the head file format, and siamese against prototypical on the same real episodes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from episodes.evaluate import evaluate, pixel_encoder
from episodes.head_files import HEAD_FILE, load_head, save_head
from episodes.sampler import EpisodeSampler
from episodes.scoring import EpisodeScorer, siamese_class_scores
from fewshot.data import Omniglot
from fewshot.errors import InputError, StoreFormatError
from fewshot.heads import PrototypicalHead, SiameseHead


def l1_head(dim: int) -> SiameseHead:
    """A siamese head whose log-odds are −Σ|a − b| / dim: nearest neighbour in L1."""
    head = SiameseHead(dim)
    with torch.no_grad():
        head.linear.weight.fill_(-1.0 / dim)
        head.linear.bias.zero_()
    return head


def test_siamese_mean_and_max_by_hand():
    head = l1_head(1)
    support = torch.tensor([[0.0], [2.0], [10.0]])
    labels = torch.tensor([0, 0, 1])
    query = torch.tensor([[1.0]])
    pairs = torch.sigmoid(-torch.tensor([1.0, 1.0, 9.0]))
    mean = siamese_class_scores(head, support, labels, query, 2, "mean")
    top = siamese_class_scores(head, support, labels, query, 2, "max")
    assert torch.allclose(mean, torch.stack([pairs[:2].mean(), pairs[2]])[None])
    assert torch.allclose(top, torch.stack([pairs[:2].max(), pairs[2]])[None])


def test_scorer_choices_are_checked():
    with pytest.raises(InputError, match="brings its own classifier"):
        EpisodeScorer(SiameseHead(4), transductive="tim")
    with pytest.raises(InputError, match="transductive must be one of"):
        EpisodeScorer(PrototypicalHead(), transductive="lda")
    scorer = EpisodeScorer(l1_head(4), "cl2n", siamese_reduce="max")
    assert scorer.spec == {"type": "siamese", "dim": 4, "reduce": "max"}


def test_head_file_round_trip(tmp_path):
    head = l1_head(8)
    path = save_head(head, tmp_path)
    assert path.name == HEAD_FILE
    loaded = load_head(tmp_path)
    assert isinstance(loaded, SiameseHead) and torch.equal(loaded.linear.weight, head.linear.weight)
    with pytest.raises(InputError, match="--head-weights"):
        load_head(tmp_path / "missing")
    (tmp_path / "junk.safetensors").write_bytes(b"junk")
    with pytest.raises(StoreFormatError, match="not a head file"):
        load_head(tmp_path / "junk.safetensors")


def test_siamese_and_prototypical_on_the_same_episodes(omniglot_root, cache_dir):
    data = Omniglot(omniglot_root, "evaluation", image_size=28, cache_dir=cache_dir,
                    alphabets=["Kannada"])  # fmt: skip
    episodes = list(EpisodeSampler(data.labels, 5, 1, 5, n_episodes=20, seed=0))
    pixels = pixel_encoder(28)
    proto = evaluate(pixels, data, episodes, {})
    siamese = evaluate(pixels, data, episodes, {}, head=l1_head(784))
    tim = evaluate(pixels, data, episodes, {}, transductive="tim")
    assert siamese["protocol"]["head"]["type"] == "siamese"
    assert tim["protocol"]["transductive"] == "tim"
    for report in (proto, siamese, tim):
        assert len(report["per_episode"]) == 20 and 0.2 < report["accuracy"]["mean"] <= 1.0
    features = pixels.embed(data.inputs(np.arange(len(data))))
    again = evaluate(pixels, data, episodes, {}, features=features)
    assert again["per_episode"] == proto["per_episode"]  # precomputed features: same scores
    with pytest.raises(InputError, match="every dataset item"):
        evaluate(pixels, data, episodes, {}, features=features[:10])
