"""Saved stores as hostile input: each case a tampered store, each answered by a
StoreFormatError naming the file and field, with nothing read outside the store and no
allocation beyond what the files hold. Checksums are recomputed after each tampering, so the
checks under test are the manifest's own, not the checksum's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from fewshot import FewShotClassifier
from fewshot.durable import sha256_file
from fewshot.errors import InputError, StoreFormatError
from fewshot.store_directory import current_snapshot

HELPERS = Path(__file__).resolve().parent.parent / "helpers"


@pytest.fixture()
def saved(tmp_path: Path) -> Path:
    clf = FewShotClassifier(mode="knn", threshold=0.2)
    clf.register_many({"a": np.eye(4)[:2], 7: np.eye(4)[2:]})
    clf.finetune(part="head", episodes=3, progress=False)
    clf.save(tmp_path / "store")
    return tmp_path / "store"


def manifest_of(store: Path) -> dict:
    return json.loads((current_snapshot(store) / "manifest.json").read_text())


def rewrite(store: Path, manifest: dict, rehash: bool = True) -> None:
    """Write a tampered manifest; with ``rehash``, refresh the checksums of files it lists."""
    folder = current_snapshot(store)
    if rehash and isinstance(manifest.get("files"), dict):
        for name in list(manifest["files"]):
            if (folder / name).is_file():
                manifest["files"][name] = sha256_file(folder / name)
    (folder / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("files", ["index.faiss"], "files"),
        ("encoder", "minilm", "encoder"),
        ("classes", None, "classes"),
        ("next_id", -5, "next_id"),
        ("n_neighbors", 0, "n_neighbors"),
        ("threshold", "0.5", "threshold"),
        ("metric", "manhattan", "metric"),
        ("dim", 0, "dim"),
        ("files", {}, "no checksum"),
    ],
)
def test_malformed_fields_are_named(saved, field, value, message):
    manifest = manifest_of(saved)
    manifest[field] = value
    rewrite(saved, manifest)
    with pytest.raises(StoreFormatError, match=message):
        FewShotClassifier.load(saved)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda m: m["classes"][0].update(shots=-3), "shots"),
        (lambda m: m["classes"][0].update(shots=9, ids=list(range(9))), "shots|ids"),
        (lambda m: m["classes"][0].update(ids=[10**15, 1]), "ids"),
        (lambda m: m["classes"][1].update(ids=m["classes"][0]["ids"]), "repeats"),
        (lambda m: m["classes"][1].update(label="a"), "repeats"),
        (lambda m: m["classes"][1].update(label="\ud800"), "label"),
        (lambda m: m["classes"][0].update(label=True), "label"),
    ],
)
def test_inconsistent_classes_are_refused(saved, change, message):
    manifest = manifest_of(saved)
    change(manifest)
    rewrite(saved, manifest)
    with pytest.raises(StoreFormatError, match=message):
        FewShotClassifier.load(saved)


def test_a_huge_next_id_allocates_nothing(saved):
    manifest = manifest_of(saved)
    manifest["next_id"] = 10**12
    rewrite(saved, manifest)
    assert load_capped(saved) == {"outcome": "loaded", "labels": ["a", "7"]}
    assert FewShotClassifier.load(saved).predict(np.eye(4)[:1]) == ["a"]


def test_a_head_claiming_a_million_dimensions_is_refused(saved):
    manifest = manifest_of(saved)
    manifest["head"]["spec"]["dim"] = 10**6
    rewrite(saved, manifest)
    with pytest.raises(StoreFormatError, match=r"head\.spec\.dim"):
        FewShotClassifier.load(saved)


def load_capped(store: Path, extra_mib: int = 2000) -> dict:
    """Load ``store`` in a subprocess whose address space may grow by ``extra_mib`` only."""
    result = subprocess.run(
        [sys.executable, str(HELPERS / "load_capped.py"), str(store), str(extra_mib)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(HELPERS.parent.parent), "MALLOC_ARENA_MAX": "2"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("claim", [10**9, 10**12])
def test_an_index_header_claiming_huge_sizes_fails_before_allocating(saved, claim):
    index = current_snapshot(saved) / "index.faiss"
    data = bytearray(index.read_bytes())
    data[8:16] = claim.to_bytes(8, "little")  # ntotal of the id map
    data[45:53] = claim.to_bytes(8, "little")  # ntotal of the flat index inside
    data[74:82] = (claim * 4).to_bytes(8, "little")  # its vector count (d = 4)
    index.write_bytes(bytes(data))
    rewrite(saved, manifest_of(saved))
    outcome = load_capped(saved)  # an allocation would fail as bad_alloc under the cap
    assert outcome["outcome"] == "StoreFormatError" and "index.faiss" in outcome["message"]
    assert "claims" in outcome["message"] and "alloc" not in outcome["message"]


def test_shot_counts_that_split_the_shots_wrongly_are_refused(tmp_path):
    clf = FewShotClassifier()
    clf.register_many({"a": np.eye(4)[:3], "b": np.eye(4)[1:4]})
    clf.save(tmp_path / "s")
    manifest = manifest_of(tmp_path / "s")
    manifest["classes"][0]["shots"], manifest["classes"][1]["shots"] = -3, 9  # still sums to 6
    rewrite(tmp_path / "s", manifest)
    with pytest.raises(StoreFormatError, match="shots"):
        FewShotClassifier.load(tmp_path / "s")


@pytest.mark.parametrize(
    "change",
    [
        lambda m, outside: m.update(examples=str(outside)),
        lambda m, outside: m.update(examples="../../outside.json"),
        lambda m, outside: m["head"].update(weights=str(outside)),
        lambda m, outside: m["files"].update({"../outside.json": sha256_file(outside)}),
    ],
)
def test_paths_outside_the_snapshot_are_never_read(saved, tmp_path, change):
    outside = tmp_path / "outside.json"
    outside.write_text(json.dumps([["x", "y"], ["z", "w"]]))
    manifest = manifest_of(saved)
    change(manifest, outside)
    rewrite(saved, manifest, rehash=False)
    with pytest.raises(StoreFormatError, match=r"outside|file name|no checksum"):
        FewShotClassifier.load(saved)


def test_a_snapshot_that_is_a_symlink_elsewhere_is_refused(saved, tmp_path):
    live = current_snapshot(saved)
    elsewhere = tmp_path / "elsewhere"
    live.rename(elsewhere)
    os.symlink(elsewhere, live)
    with pytest.raises(StoreFormatError, match="not a real folder"):
        FewShotClassifier.load(saved)


def test_a_snapshot_name_of_five_thousand_characters_is_refused(saved):
    (saved / "CURRENT").write_text(
        json.dumps({"format": "fewshot.store", "snapshot": "snapshot-" + "1" * 5000})
    )
    with pytest.raises(StoreFormatError, match="invalid snapshot"):
        FewShotClassifier.load(saved)


def test_a_deeply_nested_manifest_is_refused(saved):
    (current_snapshot(saved) / "manifest.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(StoreFormatError, match=r"nested|foreign"):
        FewShotClassifier.load(saved)


def test_save_refuses_a_folder_with_someone_elses_current(tmp_path):
    leveldb = tmp_path / "leveldb"
    leveldb.mkdir()
    (leveldb / "CURRENT").write_text("MANIFEST-000004\n")
    clf = FewShotClassifier()
    clf.register("a", np.eye(3)[:1])
    with pytest.raises(StoreFormatError, match="not a fewshot store pointer"):
        clf.save(leveldb)
    assert (leveldb / "CURRENT").read_text() == "MANIFEST-000004\n"


def test_save_never_deletes_a_users_file_named_like_a_snapshot(tmp_path):
    store = tmp_path / "store"
    clf = FewShotClassifier()
    clf.register("a", np.eye(3)[:1])
    clf.save(store)
    (store / "snapshot-1-2").write_text("my notes")
    (store / "snapshot-3-4").mkdir()
    (store / "snapshot-3-4" / "data.txt").write_text("mine too")
    clf.save(store)
    clf.save(store)
    assert (store / "snapshot-1-2").read_text() == "my notes"
    assert (store / "snapshot-3-4" / "data.txt").read_text() == "mine too"


def test_query_refuses_an_absurd_k_at_once(saved):
    clf = FewShotClassifier.load(saved)
    with pytest.raises(InputError, match="at most 2"):
        clf.query(np.eye(4)[:1], k=10**12)
    assert clf.query(np.eye(4)[:1], k=5).labels.shape == (1, 5)  # small k still pads


def test_labels_that_cannot_be_encoded_are_refused_at_register(tmp_path):
    clf = FewShotClassifier()
    with pytest.raises(InputError, match="surrogate"):
        clf.register("\ud800", np.eye(3)[:1])
    assert clf.labels == []
    clf.register("ok", np.eye(3)[:1])
    clf.save(tmp_path / "s")  # nothing unsaveable was let in


def test_threshold_must_be_finite_and_bfloat16_features_work():
    clf = FewShotClassifier()
    clf.register("a", torch.eye(4, dtype=torch.bfloat16)[:2])
    assert clf.predict(torch.eye(4, dtype=torch.float16)[:1]) == ["a"]
    for bad in (float("nan"), float("inf"), "high", True):
        with pytest.raises(InputError, match="threshold"):
            clf.threshold = bad
    assert clf.threshold is None


def test_checkpoint_configs_cannot_claim_huge_networks(tmp_path):
    from fewshot.encoders import load_encoder, save_checkpoint
    from fewshot.encoders.backbones import Conv4
    from fewshot.encoders.module import wrap_module
    from fewshot.encoders.omniglot import omniglot_preprocess

    encoder = wrap_module(
        Conv4(1, 8, 28),
        preprocess=omniglot_preprocess(28),
        architecture="conv4",
        architecture_kwargs={"in_channels": 1, "hidden": 8, "image_size": 28},
    )
    save_checkpoint(encoder, tmp_path / "ckpt")
    config = json.loads((tmp_path / "ckpt" / "encoder.json").read_text())
    config["architecture_kwargs"]["hidden"] = 100_000
    (tmp_path / "ckpt" / "encoder.json").write_text(json.dumps(config))
    with pytest.raises(StoreFormatError, match="does not fit"):
        load_encoder(tmp_path / "ckpt")
    config["files"] = {}
    (tmp_path / "ckpt" / "encoder.json").write_text(json.dumps(config))
    with pytest.raises(StoreFormatError, match="no checksum"):
        load_encoder(tmp_path / "ckpt")
