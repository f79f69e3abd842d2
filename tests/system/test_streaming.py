"""Registrations too large for memory: streamed registration keeps the process's peak memory
bounded (a subprocess measures it), and the shard job embeds, skips finished shards, refuses
mixed or incomplete jobs and registers the shards without the encoder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fewshot import FewShotClassifier
from fewshot.errors import InputError, StoreFormatError
from fewshot.shards import embed_shard, register_shards
from fewshot.shards_cli import main as shards_main

HELPERS = Path(__file__).resolve().parent.parent / "helpers"
REPO = HELPERS.parent.parent


def probe(*args: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, str(HELPERS / "stream_probe.py"), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_streaming_into_postgres_keeps_the_process_memory_bounded(pg_options):
    """100k×64 float32 rows (24 MiB) streamed in chunks of 2048: the classifier process holds
    one chunk at a time (~3 MiB measured, whatever the rows); the rows live in the database."""
    measured = probe("pgvector", "100000", "64", pg_options["dsn"], pg_options["table"])
    assert measured["peak_growth_mib"] < 0.25 * measured["input_mib"], measured


def test_streaming_into_faiss_costs_the_kept_shots_only():
    """In process the shots stay in memory (raw, for shots() and saves): growth is about one
    copy of the rows, not two (blocks are never re-concatenated per chunk)."""
    measured = probe("flat", "100000", "64")
    assert measured["peak_growth_mib"] < 1.35 * measured["input_mib"], measured


@pytest.fixture(scope="module")
def items(tmp_path_factory, intents10) -> Path:
    path = tmp_path_factory.mktemp("items") / "items.jsonl"
    lines = [
        json.dumps({"input": text, "label": label})
        for label, texts in list(intents10["shots"].items())[:4]
        for text in texts
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_shards_are_skipped_when_done_and_register_without_the_encoder(items, tmp_path, minilm):
    out = tmp_path / "shards"
    first = embed_shard(items, out, 0, 3, minilm, batch_size=4, progress=False)
    clf = FewShotClassifier(minilm)
    with pytest.raises(InputError, match=r"misses shards \[1, 2\]"):
        register_shards(clf, out)
    before = (first / "embeddings.npy").stat().st_mtime_ns
    assert embed_shard(items, out, 0, 3, minilm, progress=False) == first  # done: skipped
    assert (first / "embeddings.npy").stat().st_mtime_ns == before
    assert shards_main(["embed", "--input", str(items), "--out", str(out), "--shard", "1/3"]) == 0
    embed_shard(items, out, 2, 3, minilm, progress=False)
    assert register_shards(clf, out, progress=False) == 20
    direct = FewShotClassifier(minilm)
    records = [json.loads(line) for line in items.read_text().splitlines()]
    direct.register_many([(r["input"], r["label"]) for r in records], progress=False)
    assert clf.labels == direct.labels
    for label in clf.labels:
        np.testing.assert_allclose(clf.shots(label), direct.shots(label), atol=1e-5)
    assert clf.examples(clf.labels[0]) == []  # embeddings only: no texts to fine-tune on
    store = tmp_path / "store"
    assert shards_main(["register-shards", "--store", str(store), "--shards", str(out)]) == 0
    assert FewShotClassifier.load(store).labels == clf.labels


def test_mixed_corrupt_or_foreign_shards_are_refused(items, tmp_path, minilm):
    out = tmp_path / "shards"
    embed_shard(items, out, 0, 1, minilm, progress=False)
    with pytest.raises(InputError, match="encoder"):
        register_shards(FewShotClassifier("omniglot-conv4"), out)
    embed_shard(items, out, 1, 2, minilm, progress=False)  # another job, same folder
    with pytest.raises(StoreFormatError, match="another job"):
        register_shards(FewShotClassifier(minilm), out)
    for extra in (out / "shard-00001-of-00002").iterdir():
        extra.unlink()
    (out / "shard-00001-of-00002").rmdir()
    embeddings = out / "shard-00000-of-00001" / "embeddings.npy"
    data = bytearray(embeddings.read_bytes())
    data[-5] ^= 0xFF
    embeddings.write_bytes(bytes(data))
    with pytest.raises(StoreFormatError, match="checksum mismatch"):
        register_shards(FewShotClassifier(minilm), out)
    assert shards_main(["embed", "--input", str(items), "--out", str(out), "--shard", "3"]) == 2


def test_local_worker_processes_embed_every_shard(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    lines = []
    for i in range(6):  # a small image encoder keeps the two spawned workers quick
        path = tmp_path / f"{i}.png"
        Image.fromarray(rng.integers(0, 255, size=(28, 28), dtype=np.uint8)).save(path)
        lines.append(json.dumps({"input": str(path), "label": i % 2}))
    items = tmp_path / "images.jsonl"
    items.write_text("\n".join(lines), encoding="utf-8")
    out = tmp_path / "shards"
    embed_shard(items, out, 1, 3, "omniglot-conv4", progress=False)  # done: the workers skip it
    command = ["embed", "--input", str(items), "--out", str(out), "--encoder", "omniglot-conv4"]
    assert shards_main([*command, "--shards", "3", "--workers", "2"]) == 0
    clf = FewShotClassifier("omniglot-conv4")
    assert register_shards(clf, out, progress=False) == 6 and clf.labels == [0, 1]
    np.testing.assert_allclose(
        clf.shots(0), clf.encoder.embed([tmp_path / f"{i}.png" for i in (0, 2, 4)]), atol=1e-5
    )
