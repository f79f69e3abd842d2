"""The two shipped transfer encoders load by name offline, as small partial checkpoints over
their public bases, and are better than those bases on data of their kind; a classifier built
on one saves and loads under the name."""

from __future__ import annotations

import numpy as np
import pytest

import fewshot
from episodes.evaluate import evaluate
from episodes.sampler import EpisodeSampler
from fewshot.data import load_banking77
from fewshot.data.omniglot import Omniglot
from fewshot.encoders import SHIPPED_CHECKPOINTS, is_checkpoint


def shipped(name: str) -> pytest.MarkDecorator:
    """Skip where the package was installed without this asset."""
    folder = SHIPPED_CHECKPOINTS.get(name)
    return pytest.mark.skipif(folder is None or not is_checkpoint(folder), reason="no asset")


@pytest.mark.parametrize(("name", "dim", "base"), [
    pytest.param("efficientnet-lite0-omniglot", 1280, "efficientnet-lite0",
                 marks=shipped("efficientnet-lite0-omniglot")),
    pytest.param("minilm-intents", 384, "minilm", marks=shipped("minilm-intents")),
])  # fmt: skip
def test_loads_by_name_as_a_partial_checkpoint_over_its_base(name, dim, base):
    encoder = fewshot.load_encoder(name, device="cpu")
    assert encoder.dim == dim and encoder.spec == {"name": name}
    assert encoder.base == {"name": base}
    megabytes = sum(f.stat().st_size for f in SHIPPED_CHECKPOINTS[name].iterdir()) / 2**20
    assert megabytes < 16  # the trained blocks only, not the whole network


@shipped("efficientnet-lite0-omniglot")
def test_efficientnet_omniglot_beats_imagenet_features_on_unseen_alphabets(
    omniglot_root, cache_dir
):
    tuned = fewshot.load_encoder("efficientnet-lite0-omniglot", device="cpu")
    size = tuned.preprocess.size
    data = Omniglot(omniglot_root, "evaluation", image_size=size, cache_dir=cache_dir,
                    alphabets=["Kannada", "Tibetan"])  # fmt: skip
    sampler = EpisodeSampler(data.labels, 20, 1, 1, n_episodes=20, seed=0,
                             groups=data.class_groups, within_group=True)  # fmt: skip
    episodes = list(sampler)
    imagenet = fewshot.load_encoder("efficientnet-lite0", device="cpu")
    imagenet.preprocess = tuned.preprocess  # the same images, the untuned weights
    scores = {
        name: evaluate(encoder, data, episodes, sampler.protocol())["accuracy"]["mean"]
        for name, encoder in (("tuned", tuned), ("imagenet", imagenet))
    }
    assert scores["tuned"] > scores["imagenet"] + 0.15, scores


@shipped("minilm-intents")
def test_minilm_intents_separates_banking_intents_better_than_minilm(data_root):
    data = load_banking77(data_root)
    shots = data.k_shot(5, seed=0).by_label()
    chosen = sorted(shots)[:15]
    test = [(t, y) for t, y in zip(data.test.texts, data.test.labels, strict=True) if y in chosen]
    texts, truth = [t for t, _ in test], [y for _, y in test]

    def accuracy(name: str) -> float:
        clf = fewshot.FewShotClassifier(name)
        clf.register_many({label: shots[label] for label in chosen})
        return float(np.mean([p == y for p, y in zip(clf.predict(texts), truth, strict=True)]))

    tuned, base = accuracy("minilm-intents"), accuracy("minilm")
    assert tuned >= base, (tuned, base)


@shipped("minilm-intents")
def test_a_classifier_on_a_shipped_encoder_saves_and_loads_under_its_name(tmp_path):
    clf = fewshot.FewShotClassifier("minilm-intents")
    clf.register_many({"card": ["my card is lost", "card stolen"], "fx": ["exchange rate?"]})
    clf.save(tmp_path / "store")
    loaded = fewshot.FewShotClassifier.load(tmp_path / "store")
    assert loaded.encoder.spec["name"] == "minilm-intents"  # its checkpoint saved with the store
    queries = ["someone took my card", "what rate do you use for euros"]
    assert loaded.predict(queries) == clf.predict(queries) == ["card", "fx"]
