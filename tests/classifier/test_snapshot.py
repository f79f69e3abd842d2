"""Saving and loading: exact round trips, atomic replacement, and clear errors on bad directories."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from fewshot import FewShotClassifier
from fewshot.errors import InputError, StoreFormatError
from fewshot.store_directory import current_snapshot

rng = np.random.default_rng(2)


def features_clf(mode: str = "prototype", metric: str = "cosine") -> FewShotClassifier:
    clf = FewShotClassifier(mode=mode, metric=metric, threshold=0.25, n_neighbors=3)
    clf.register_many(
        {f"class {i}": rng.normal(size=(4, 12)) + 3 * np.eye(12)[i] for i in range(6)}
    )
    return clf


@pytest.mark.parametrize("mode", ["prototype", "knn"])
@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_round_trip_answers_identically(tmp_path, mode, metric):
    clf = features_clf(mode, metric)
    clf.remove("class 2")
    clf.register("class 0", rng.normal(size=(2, 12)))
    clf.save(tmp_path / "store")
    loaded = FewShotClassifier.load(tmp_path / "store")
    assert (loaded.labels, loaded.mode, loaded.metric, loaded.threshold, loaded.n_neighbors) == (
        clf.labels,
        mode,
        metric,
        0.25,
        3,
    )
    queries = rng.normal(size=(30, 12))
    a, b = clf.query(queries, k=3), loaded.query(queries, k=3)
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.scores, b.scores)
    for label in clf.labels:
        np.testing.assert_array_equal(clf.shots(label), loaded.shots(label))
    loaded.register("late", rng.normal(size=(2, 12)))  # a loaded store keeps growing
    loaded.remove("class 1")
    assert "late" in loaded.labels and len(loaded.index) == len(clf.index) - (
        0 if mode == "prototype" else 2
    )


def test_text_classifier_round_trip_keeps_its_encoder(tmp_path, minilm, intents10):
    clf = FewShotClassifier(minilm)
    clf.register_many(intents10["shots"])
    clf.save(tmp_path / "s")
    manifest = json.loads((current_snapshot(tmp_path / "s") / "manifest.json").read_text())
    assert manifest["encoder"] == {"spec": {"name": "minilm"}}
    loaded = FewShotClassifier.load(tmp_path / "s")
    texts = [text for text, _ in intents10["test"][:20]]
    assert loaded.predict(texts) == clf.predict(texts)


def test_saving_again_replaces_the_snapshot_and_cleans_up(tmp_path):
    clf = features_clf()
    clf.save(tmp_path / "s")
    first = current_snapshot(tmp_path / "s")
    clf.remove("class 0")
    clf.save(tmp_path / "s")
    second = current_snapshot(tmp_path / "s")
    assert first != second and not first.exists()
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == sorted(["CURRENT", second.name])
    assert "class 0" not in FewShotClassifier.load(tmp_path / "s").labels


def test_empty_classifier_round_trip(tmp_path, minilm):
    FewShotClassifier(minilm, threshold=0.4).save(tmp_path / "s")
    loaded = FewShotClassifier.load(tmp_path / "s")
    assert loaded.labels == [] and loaded.threshold == 0.4 and loaded.encoder.dim == 384
    loaded.register("a", ["hello"])
    assert loaded.predict(["hi"]) == ["a"]


def test_wrapped_module_encoder_is_saved_as_a_checkpoint(tmp_path):
    import torch

    from fewshot import register_architecture, wrap_module

    def tiny(width: int = 6) -> torch.nn.Module:
        torch.manual_seed(0)
        return torch.nn.Sequential(torch.nn.Linear(5, width), torch.nn.Tanh())

    register_architecture("test-tiny", tiny)
    encoder = wrap_module(tiny(), dim=6, architecture="test-tiny", architecture_kwargs={"width": 6})
    with torch.no_grad():
        encoder.module[0].weight.add_(1.0)  # weights differ from a fresh build: they must be saved
    clf = FewShotClassifier(encoder)
    clf.register_many(
        {
            "a": rng.normal(size=(3, 5)).astype(np.float32),
            "b": rng.normal(size=(3, 5)).astype(np.float32),
        }
    )
    clf.save(tmp_path / "s")
    loaded = FewShotClassifier.load(tmp_path / "s")
    x = rng.normal(size=(4, 5)).astype(np.float32)
    np.testing.assert_allclose(loaded.encoder.embed(x), encoder.embed(x), atol=1e-6)


def test_unsaveable_encoder_must_be_passed_back_on_load(tmp_path):
    import torch

    from fewshot import wrap_module

    encoder = wrap_module(torch.nn.Linear(3, 3), dim=3)
    clf = FewShotClassifier(encoder)
    clf.register("a", [np.ones(3, dtype=np.float32)])
    clf.save(tmp_path / "s")
    with pytest.raises(InputError, match="encoder="):
        FewShotClassifier.load(tmp_path / "s")
    assert FewShotClassifier.load(tmp_path / "s", encoder=encoder).labels == ["a"]


# --------------------------------------------------------------------------- bad directories
@pytest.fixture()
def saved(tmp_path) -> Path:
    features_clf().save(tmp_path / "s")
    return tmp_path / "s"


def test_missing_and_foreign_directories(tmp_path, saved):
    with pytest.raises(StoreFormatError, match="does not exist"):
        FewShotClassifier.load(tmp_path / "nothing")
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "notes.txt").write_text("hello")
    with pytest.raises(StoreFormatError, match="CURRENT"):
        FewShotClassifier.load(tmp_path / "foreign")
    with pytest.raises(StoreFormatError, match="refusing"):
        features_clf().save(tmp_path / "foreign")  # never writes over unrelated files
    assert (tmp_path / "foreign" / "notes.txt").read_text() == "hello"
    (saved / "CURRENT").write_text('{"format": "something else"}')
    with pytest.raises(StoreFormatError, match="CURRENT"):
        FewShotClassifier.load(saved)


@pytest.mark.parametrize("name", ["shots.safetensors", "index.faiss", "manifest.json"])
def test_corrupted_files_are_named(saved, name):
    path = current_snapshot(saved) / name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(StoreFormatError, match=name.replace(".", r"\.")):
        FewShotClassifier.load(saved)


@pytest.mark.parametrize("name", ["shots.safetensors", "index.faiss", "manifest.json"])
def test_missing_files_are_named(saved, name):
    (current_snapshot(saved) / name).unlink()
    with pytest.raises(StoreFormatError, match=name.replace(".", r"\.")):
        FewShotClassifier.load(saved)


def test_truncated_file_and_newer_version(saved):
    shots = current_snapshot(saved) / "shots.safetensors"
    shots.write_bytes(shots.read_bytes()[:100])
    with pytest.raises(StoreFormatError, match="shots"):
        FewShotClassifier.load(saved)
    manifest_path = current_snapshot(saved) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["format_version"] = 99
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(StoreFormatError, match="upgrade fewshot"):
        FewShotClassifier.load(saved)


def test_interrupted_save_leaves_previous_snapshot_loadable(saved, monkeypatch):
    clf = features_clf()
    clf.remove("class 5")

    def explode(path):
        raise OSError("disk full")

    monkeypatch.setattr("fewshot.stores.flat.FlatStore.save", lambda self, path: explode(path))
    with pytest.raises(OSError, match="disk full"):
        clf.save(saved)
    monkeypatch.undo()
    assert "class 5" in FewShotClassifier.load(saved).labels
    assert [p.name for p in saved.iterdir() if p.name.startswith(".tmp")] == []


def test_snapshot_copied_elsewhere_still_loads(tmp_path, saved):
    shutil.copytree(saved, tmp_path / "copy")
    assert FewShotClassifier.load(tmp_path / "copy").labels == FewShotClassifier.load(saved).labels
