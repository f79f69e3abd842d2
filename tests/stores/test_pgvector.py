"""The pgvector backend as shared state: a second process sees registrations without reloading,
a concurrent reader never sees half a class, concurrent writers of one class lose nothing,
threads share one classifier, saves hold the address (never a password), HNSW per label set."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from fewshot import FewShotClassifier
from fewshot.errors import StoreFormatError
from fewshot.store_directory import current_snapshot

HELPERS = Path(__file__).resolve().parent.parent / "helpers"
REPO = HELPERS.parent.parent
psycopg = pytest.importorskip("psycopg", reason="the postgres extra is not installed")
DIM = 8
rng = np.random.default_rng(11)


def worker(options: dict, *args: str, stdin: bool = False) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), "FEWSHOT_PROGRESS": "0"}
    command, *rest = args
    script = str(HELPERS / "pg_worker.py")
    return subprocess.Popen(
        [sys.executable, script, command, options["dsn"], options["table"], *rest],
        stdin=subprocess.PIPE if stdin else None,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )


def line(process: subprocess.Popen) -> dict:
    text = process.stdout.readline()
    assert text, f"the worker ended early (exit {process.wait(30)})"
    return json.loads(text)


def test_a_second_process_sees_a_registration_without_reloading(pg_options):
    a = FewShotClassifier(store="pgvector", store_options=pg_options)
    a.register("x", rng.normal(size=(3, DIM)))
    b = worker(pg_options, "follow", "y", stdin=True)
    try:
        assert line(b) == {"labels": ["x"]}
        a.register("y", 5 + 0.1 * rng.normal(size=(2, DIM)))
        b.stdin.write("go\n")
        b.stdin.flush()
        assert line(b) == {"labels": ["x", "y"], "predicted": ["y"]}
    finally:
        b.kill() if b.poll() is None else None
        b.wait(30)
        a.close()


def test_a_concurrent_reader_never_sees_half_a_class(pg_options):
    a = FewShotClassifier(store="pgvector", store_options=pg_options)
    a.register("other", rng.normal(size=(1, DIM)))  # the table exists before the reader opens
    reader = worker(pg_options, "watch", "big", "1500")
    try:
        assert line(reader) == {"ready": True}
        for _ in range(30):  # 30 registrations of 50 shots each while the reader polls
            a.register("big", rng.normal(size=(50, DIM)))
        seen = line(reader)["seen"]
    finally:
        reader.wait(60)
        a.close()
    assert all(count % 50 == 0 for count in seen), seen  # whole registrations only
    assert len(seen) >= 4 and max(seen) == 1500, seen  # it looked while they went on


def test_concurrent_registrations_of_one_label_lose_nothing(pg_options, pg_server):
    FewShotClassifier(store="pgvector", store_options=pg_options).register(
        "seed", rng.normal(size=(1, DIM))
    )
    other = worker(pg_options, "hammer", "x", "30", "1", stdin=True)  # another process ...
    clf = FewShotClassifier(store="pgvector", store_options=pg_options)
    mine = np.random.default_rng(2)
    assert line(other) == {"ready": True}
    other.stdin.write("go\n")
    other.stdin.flush()
    for _ in range(30):  # ... and this one, at the same time
        clf.register("x", mine.normal(size=(5, DIM)))
    assert line(other) == {"done": 30}
    other.wait(60)
    shots = clf.shots("x")
    expected = np.concatenate(
        [np.random.default_rng(seed).normal(size=(150, DIM)) for seed in (1, 2)]
    ).astype(np.float32)
    assert clf.num_shots("x") == len(shots) == 300
    np.testing.assert_allclose(
        np.sort(shots, axis=0), np.sort(expected, axis=0), atol=1e-6
    )  # every shot of both writers, none twice
    unit = shots / np.linalg.norm(shots, axis=1, keepdims=True)
    with psycopg.connect(pg_server.dsn) as conn:
        stored = conn.execute(
            f"SELECT prototype::text FROM {pg_options['table']} WHERE label = '\"x\"'"
        ).fetchone()[0]
    np.testing.assert_allclose(json.loads(stored), unit.mean(0), atol=1e-5)
    clf.close()


def test_threads_share_one_classifier(pg_options):
    clf = FewShotClassifier(store="pgvector", store_options={**pg_options, "pool_size": 3})
    centres = {f"t{t}-{i}": 10 * rng.normal(size=DIM) for t in range(4) for i in range(5)}
    errors: list[BaseException] = []

    def work(thread: int) -> None:
        try:
            mine = [label for label in centres if label.startswith(f"t{thread}-")]
            for label in mine:
                clf.register(label, centres[label] + rng.normal(size=(3, DIM)) * 0.01)
                assert clf.predict(centres[label][None]) == [label]
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == [] and sorted(clf.labels) == sorted(centres)
    clf.close()


def test_saves_hold_the_address_and_never_the_password(pg_options, tmp_path):
    options = {**pg_options, "password": "not-needed-here"}
    clf = FewShotClassifier(store="pgvector", store_options=options)
    assert "password" not in clf.store_options and "not-needed" not in repr(clf.store_options)
    clf.register("a", rng.normal(size=(2, DIM)))
    folder = clf.save(tmp_path / "s")
    assert folder == current_snapshot(tmp_path / "s")
    assert sorted(path.name for path in folder.iterdir()) == [".fewshot-snapshot", "manifest.json"]
    assert "not-needed-here" not in (folder / "manifest.json").read_text()
    moved = FewShotClassifier.load(tmp_path / "s", store_options={"table": pg_options["table"]})
    assert moved.labels == ["a"]
    with psycopg.connect(pg_options["dsn"], autocommit=True) as conn:
        conn.execute(f"DROP TABLE {pg_options['table']} CASCADE")
    with pytest.raises(StoreFormatError, match=r"does not exist.*dropped"):
        FewShotClassifier.load(tmp_path / "s")
    clf.close()
    moved.close()


def test_hnsw_searches_one_graph_per_label_set(pg_options):
    centres = rng.normal(size=(1500, 32)).astype(np.float32)
    exact = FewShotClassifier(store="pgvector", store_options=pg_options)
    exact.register_many({i: centres[i : i + 1] for i in range(1000)}, label_set="a")
    exact.register_many({i: centres[i : i + 1] for i in range(1000, 1500)}, label_set="b")
    hnsw = FewShotClassifier(
        store="pgvector", store_options={**pg_options, "index": "hnsw", "ef_search": 64}
    )
    queries = centres[rng.integers(0, 1000, 100)] + 0.3 * rng.normal(size=(100, 32))
    truth = exact.query(queries, k=10, label_set="a").labels
    approx = hnsw.query(queries, k=10, label_set="a").labels
    recall = np.mean([len(set(t) & set(p)) / 10 for t, p in zip(truth, approx)])
    assert recall >= 0.95 and set(approx.ravel()) <= set(range(1000))
    with psycopg.connect(pg_options["dsn"]) as conn:
        indexes = conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = %s AND indexdef LIKE '%%hnsw%%'",
            (pg_options["table"],),
        ).fetchall()
    assert len(indexes) == 1 and "WHERE (label_set = 'a'::text)" in indexes[0][0]
    hnsw.register(2000, rng.normal(size=(1, 32)), label_set="a")  # goes into the graph too
    assert hnsw.predict(hnsw.shots(2000, label_set="a"), label_set="a") == [2000]
    exact.close()
    hnsw.close()


def test_one_registration_of_many_classes_takes_a_bounded_number_of_locks(pg_options):
    """16k classes in one transaction: one lock each overflowed the server's lock table."""
    clf = FewShotClassifier(store="pgvector", store_options=pg_options)
    vectors = rng.normal(size=(16_000, 2))
    clf.register_many({i: vectors[i : i + 1] for i in range(16_000)})
    assert len(clf) == 16_000 and clf.predict(vectors[123:124]) == [123]
    clf.close()
