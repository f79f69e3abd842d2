"""finetune(): the encoder path (MiniLM's blocks, defaults) and the projection head, on a small
real CLINC150 subset; their save/load round trips, rejection after fine-tuning, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import fewshot
from fewshot.errors import InputError
from fewshot.heads.losses import cosine_pair_loss, supervised_contrastive_loss

FAST = {"epochs": 2, "progress": False, "seed": 0}


@pytest.fixture(scope="module")
def five(clinc: dict) -> dict:
    """Five CLINC150 intents: the fixed 5 shots each, their 30 test and 20 val utterances."""
    names = sorted(clinc["shots"])[::30][:5]
    return {
        "shots": {name: clinc["shots"][name] for name in names},
        "test": [(text, name) for name in names for text in clinc["test"][name]],
        "val": [text for name in names for text in clinc["val"][name]],
    }


def accuracy(clf: fewshot.FewShotClassifier, pairs: list[tuple[str, str]]) -> float:
    predicted = clf.predict([text for text, _ in pairs])
    return float(np.mean([p == label for p, (_, label) in zip(predicted, pairs)]))


@pytest.fixture(scope="module")
def tuned(minilm, five) -> tuple[fewshot.FewShotClassifier, object, np.ndarray]:
    """A classifier fine-tuned on 5 intents × 5 shots; its report; its shots before tuning."""
    clf = fewshot.FewShotClassifier(minilm, threshold=0.3)
    clf.register_many(five["shots"])
    before = np.concatenate([clf.shots(label) for label in clf.labels])
    report = clf.finetune(**FAST)
    return clf, report, before


def test_finetune_changes_the_encoder_copy_and_keeps_predicting(minilm, five, tuned) -> None:
    clf, report, before = tuned
    after = np.concatenate([clf.shots(label) for label in clf.labels])
    assert after.shape == before.shape and not np.allclose(after, before, atol=1e-4)
    assert clf.encoder is not minilm and "finetuned" in clf.encoder.spec
    assert "finetuned" not in minilm.spec  # the shared encoder object is untouched
    assert np.allclose(minilm.embed(five["shots"][clf.labels[0]]), before[:5], atol=1e-5)
    assert clf.threshold is None  # scores moved: the old threshold is dropped
    assert report.examples == 25 and report.labels == 5 and report.steps >= 2
    assert report.layers == 6  # the default trains every MiniLM block
    assert not any(p.requires_grad for p in clf.encoder.module.parameters())
    assert not clf.encoder.module.training
    assert accuracy(clf, five["test"]) >= 0.9


def test_finetune_is_seeded(minilm, five, tuned) -> None:
    clf, _, _ = tuned
    again = fewshot.FewShotClassifier(minilm)
    again.register_many(five["shots"])
    again.finetune(**FAST)
    texts = [text for text, _ in five["test"][:10]]
    assert np.allclose(again.encoder.embed(texts), clf.encoder.embed(texts), atol=1e-5)


def test_finetuned_classifier_round_trips(tmp_path: Path, five, tuned) -> None:
    clf, _, _ = tuned
    clf.save(tmp_path / "store")
    loaded = fewshot.FewShotClassifier.load(tmp_path / "store")
    texts = [text for text, _ in five["test"]]
    assert loaded.predict(texts) == clf.predict(texts)
    assert np.allclose(loaded.query(texts).scores, clf.query(texts).scores, atol=1e-5)
    assert loaded.encoder.spec["finetuned"] == clf.encoder.spec["finetuned"]
    assert loaded.examples(clf.labels[0]) == clf.examples(clf.labels[0])
    encoder_dir = next((tmp_path / "store").glob("snapshot-*/encoder"))
    config = json.loads((encoder_dir / "encoder.json").read_text())  # partial: MiniLM by name
    assert config["base"] == {"name": "minilm"} and config["dtype"] == "float32"
    assert config["blocks"] == [f"layer.{i}" for i in range(6)]  # the embeddings stay frozen
    assert (encoder_dir / "model.safetensors").stat().st_size < 45e6  # the whole is 90 MB
    loaded.finetune(epochs=1, progress=False)  # the kept examples allow tuning again
    assert loaded.labels == clf.labels


def test_rejection_after_finetune_uses_a_threshold_from_validation(clinc, five, tuned) -> None:
    clf, _, _ = tuned
    choice = clf.calibrate_threshold(five["val"], clinc["oos_val"])
    assert clf.threshold == choice.threshold
    oos = clf.predict(clinc["oos_test"][:300])
    in_scope = clf.predict([text for text, _ in five["test"]])
    assert np.mean([p is None for p in oos]) >= 0.8
    assert np.mean([p == label for p, (_, label) in zip(in_scope, five["test"])]) >= 0.75


def test_projection_head_trains_saves_and_loads(tmp_path: Path, minilm, five) -> None:
    clf = fewshot.FewShotClassifier(minilm, threshold=0.2)
    clf.register_many(five["shots"])
    frozen = clf.query([text for text, _ in five["test"]]).scores
    head = clf.finetune(part="head", episodes=30, progress=False)
    assert clf.head is head and clf.threshold is None
    texts = [text for text, _ in five["test"]]
    assert not np.allclose(clf.query(texts).scores, frozen)
    assert accuracy(clf, five["test"]) >= 0.9
    clf.save(tmp_path / "store")
    loaded = fewshot.FewShotClassifier.load(tmp_path / "store")
    assert loaded.head is not None and loaded.encoder.spec == {"name": "minilm"}
    assert loaded.predict(texts) == clf.predict(texts)
    assert np.allclose(loaded.query(texts).scores, clf.query(texts).scores, atol=1e-6)


def test_projection_head_works_on_features() -> None:
    rng = np.random.default_rng(0)
    clf = fewshot.FewShotClassifier(encoder=None)
    centres = rng.normal(size=(3, 8)).astype(np.float32)
    for c in range(3):
        clf.register(f"c{c}", centres[c] + 0.1 * rng.normal(size=(6, 8)).astype(np.float32))
    clf.finetune(episodes=20, progress=False)  # part="auto": no encoder, so the head
    assert clf.head is not None
    assert clf.predict(centres) == ["c0", "c1", "c2"]


def test_finetune_on_an_image_encoder_trains_the_head() -> None:
    rng = np.random.default_rng(0)
    glyphs = (rng.random((3, 105, 105)) > 0.9).astype(np.uint8) * 255
    clf = fewshot.FewShotClassifier("omniglot-conv4")
    for c in range(3):
        noisy = [
            np.where(rng.random((105, 105)) > 0.98, 255 - glyphs[c], glyphs[c]) for _ in range(3)
        ]
        clf.register(f"glyph{c}", [g.astype(np.uint8) for g in noisy])
    assert clf.examples("glyph0") == []  # decoded images are not kept in memory
    encoder = clf.encoder
    clf.finetune(episodes=20, progress=False)
    assert clf.head is not None and clf.encoder is encoder  # the image encoder stays as it was
    assert clf.predict(list(glyphs)) == ["glyph0", "glyph1", "glyph2"]


def test_bad_finetune_input_leaves_the_classifier_unchanged(minilm, five) -> None:
    clf = fewshot.FewShotClassifier(minilm, threshold=0.4)
    first = sorted(five["shots"])[0]
    clf.register(first, five["shots"][first])
    shots = clf.shots(first)
    with pytest.raises(InputError, match="at least two registered labels"):
        clf.finetune()
    with pytest.raises(InputError, match="at least two registered labels"):
        clf.finetune(part="head")
    clf.register_many({k: v for k, v in five["shots"].items() if k != first})
    with pytest.raises(InputError, match="loss must be one of"):
        clf.finetune(loss="magic")
    with pytest.raises(InputError, match=r"unknown option.*epoch"):
        clf.finetune(epoch=3)
    with pytest.raises(InputError, match=r"layers must be at most 6"):
        clf.finetune(layers=7)
    with pytest.raises(InputError, match=r"layers must be an int >= 1"):
        clf.finetune(layers=0)
    with pytest.raises(InputError, match="part must be one of"):
        clf.finetune(part="everything")
    assert clf.encoder is minilm and clf.threshold == 0.4 and clf.head is None
    assert np.array_equal(clf.shots(first), shots)

    features = fewshot.FewShotClassifier(encoder=None)
    features.register_many({"a": np.eye(4, dtype=np.float32)[:2], "b": np.eye(4)[2:]})
    with pytest.raises(InputError, match=r"precomputed features.*part=.head."):
        features.finetune(part="encoder")


def test_older_snapshot_without_examples_loads_but_cannot_finetune(tmp_path, minilm, five) -> None:
    clf = fewshot.FewShotClassifier(minilm)
    clf.register_many(five["shots"])
    snapshot = clf.save(tmp_path / "store")
    manifest = json.loads((snapshot / "manifest.json").read_text())
    manifest["format_version"] = 1  # as written before examples and heads were saved
    for key in ("examples", "head"):
        manifest.pop(key)
    manifest["files"].pop("examples.json")
    (snapshot / "examples.json").unlink()
    (snapshot / "manifest.json").write_text(json.dumps(manifest))
    loaded = fewshot.FewShotClassifier.load(tmp_path / "store")
    texts = [text for text, _ in five["test"]]
    assert loaded.predict(texts) == clf.predict(texts)
    assert loaded.examples(loaded.labels[0]) == []
    with pytest.raises(InputError, match="raw examples behind every class"):
        loaded.finetune(part="encoder")
    loaded.finetune(episodes=20, progress=False)  # part="auto" falls back to the head
    assert loaded.head is not None and loaded.encoder is not None


def test_pair_and_supervised_contrastive_losses() -> None:
    a = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    b = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    assert float(cosine_pair_loss(a, b, torch.tensor([1.0, 0.0]))) == pytest.approx(0.0)
    assert float(cosine_pair_loss(a, b, torch.tensor([0.0, 1.0]))) == pytest.approx(1.0)
    tight = torch.tensor([[1.0, 0.0], [1.0, 0.01], [0.0, 1.0], [0.01, 1.0]])
    labels = torch.tensor([0, 0, 1, 1])
    assert float(supervised_contrastive_loss(tight, labels)) < float(
        supervised_contrastive_loss(tight, torch.tensor([0, 1, 0, 1]))
    )
    lonely = supervised_contrastive_loss(tight.requires_grad_(), torch.arange(4))
    assert float(lonely.detach()) == 0.0
