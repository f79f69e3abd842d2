"""Evaluation: the CI formula, scoring by hand, reports on real Omniglot episodes that carry
their protocol, two methods on one manifest, and CL2N's base-class features."""

from __future__ import annotations

import math

import numpy as np
import pytest

from episodes.evaluate import confidence_interval, evaluate, pixel_encoder, score_episodes
from episodes.manifest import load_manifest, save_manifest
from episodes.sampler import Episode, EpisodeSampler
from fewshot.data.omniglot import Omniglot
from fewshot.errors import InputError
from fewshot.heads import PrototypicalHead, build_transform


def test_confidence_interval_by_hand():
    mean, ci, std = confidence_interval([1.0, 0.5, 0.5, 0.0])
    assert mean == 0.5
    assert std == pytest.approx(math.sqrt(0.125))
    assert ci == pytest.approx(1.96 * math.sqrt(0.125) / 2)
    with pytest.raises(InputError, match="no episodes"):
        confidence_interval([])


def test_score_episodes_by_hand():
    feats = np.array([[0.0, 0.0], [10.0, 0.0], [1.0, 0.0], [9.0, 0.0], [6.0, 0.0]], np.float32)
    ep = Episode(np.array([3, 7]), np.array([[0], [1]]), np.array([[2, 4], [3, 3]]))
    accs = score_episodes(feats, np.arange(5), [ep], PrototypicalHead(), build_transform("l2"))
    # after L2 every positive row is (1, 0); the zero row stays 0 → queries all nearer class 1
    assert accs.tolist() == [0.5]
    identity = build_transform("identity")
    accs = score_episodes(feats, np.arange(5), [ep], PrototypicalHead(), identity)
    assert accs.tolist() == [0.75]  # 6.0 is nearer to 10 than to 0


@pytest.fixture(scope="module")
def small_eval(omniglot_root, cache_dir):
    return Omniglot(omniglot_root, "evaluation", image_size=28, cache_dir=cache_dir,
                    alphabets=["Kannada", "Malayalam"])  # fmt: skip


def test_pixel_baseline_report_carries_protocol(small_eval):
    sampler = EpisodeSampler(small_eval.labels, 5, 1, 5, n_episodes=40, seed=0,
                             groups=small_eval.class_groups, within_group=True)  # fmt: skip
    protocol = {**sampler.protocol(), "split": "evaluation", "image_size": 28, "backbone": "pixels"}
    report = evaluate(pixel_encoder(28), small_eval, list(sampler), protocol)
    p = report["protocol"]
    for key in ("n_way", "k_shot", "q_query", "n_episodes", "seed", "image_size", "backbone",
                "transform", "encoder", "head", "within_group"):  # fmt: skip
        assert key in p, key
    acc = report["accuracy"]
    assert acc["episodes"] == 40 and len(report["per_episode"]) == 40
    assert 0.2 < acc["mean"] < 1.0  # pixels beat 5-way chance (0.2)
    expected_ci = 1.96 * np.std(report["per_episode"]) / math.sqrt(40)
    assert acc["ci95"] == pytest.approx(expected_ci, rel=1e-4)
    assert p["head"]["metric"] == "euclidean"  # the default head: squared Euclidean prototypes


def test_two_methods_score_the_same_manifest(small_eval, tmp_path):
    sampler = EpisodeSampler(small_eval.labels, 5, 1, 3, n_episodes=20, seed=5)
    save_manifest(sampler, tmp_path / "m.json", small_eval.class_names)
    episodes, header = load_manifest(tmp_path / "m.json", small_eval.class_names)
    proto = header["protocol"]
    a = evaluate(pixel_encoder(28), small_eval, episodes, proto)
    b = evaluate(pixel_encoder(28), small_eval, episodes, proto, transform="l2")
    c = evaluate(pixel_encoder(28), small_eval, list(sampler), proto)
    assert a["per_episode"] == c["per_episode"]  # manifest == sampler, episode by episode
    assert a["protocol"]["transform"]["type"] == "identity"
    assert b["protocol"]["transform"]["type"] == "l2"


def test_cl2n_needs_base_features(small_eval):
    sampler = EpisodeSampler(small_eval.labels, 5, 1, 3, n_episodes=3, seed=0)
    with pytest.raises(InputError, match="fit_features"):
        evaluate(pixel_encoder(28), small_eval, list(sampler), {}, transform="cl2n")
    fit = np.random.default_rng(0).random((10, 784)).astype(np.float32)
    r = evaluate(pixel_encoder(28), small_eval, list(sampler), {}, transform="cl2n",
                 fit_features=fit, head=PrototypicalHead("cosine"))  # fmt: skip
    assert r["protocol"]["transform"] == {"type": "cl2n", "dim": 784}
    assert len(r["per_episode"]) == 3 and 0.0 <= r["accuracy"]["mean"] <= 1.0
