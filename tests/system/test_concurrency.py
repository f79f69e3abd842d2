"""Many threads querying while others register and remove: parallel reads, no lost or torn class."""

from __future__ import annotations

import threading
import time
import zlib

import numpy as np

from fewshot import FewShotClassifier
from fewshot.classifier.rwlock import ReadWriteLock

DIM = 16
THREADS = 8
OPS_PER_THREAD = 1250  # 8 × 1250 = 10⁴ operations
LABELS_PER_THREAD = 5


def test_readers_share_the_lock_and_writers_wait_for_them():
    lock = ReadWriteLock()
    both_inside = threading.Barrier(2, timeout=5)
    events: list[str] = []

    def reader() -> None:
        with lock.read():
            both_inside.wait()  # fails with BrokenBarrierError unless two readers are inside
            time.sleep(0.05)
            events.append("read done")

    readers = [threading.Thread(target=reader) for _ in range(2)]
    for thread in readers:
        thread.start()
    time.sleep(0.02)
    with lock.write():  # must wait until both readers have left
        events.append("write")
        with lock.write(), lock.read():  # the writer re-enters both sections
            pass
    for thread in readers:
        thread.join(5)
    assert events == ["read done", "read done", "write"]


def test_a_waiting_writer_is_not_starved_by_new_readers():
    lock = ReadWriteLock()
    order: list[str] = []
    first_reader_in = threading.Event()

    def long_reader() -> None:
        with lock.read():
            first_reader_in.set()
            time.sleep(0.1)
        order.append("reader 1 out")

    def writer() -> None:
        with lock.write():
            order.append("writer")

    def late_reader() -> None:
        with lock.read():
            order.append("reader 2")

    threads = [threading.Thread(target=long_reader)]
    threads[0].start()
    first_reader_in.wait(5)
    threads.append(threading.Thread(target=writer))
    threads[1].start()
    time.sleep(0.02)  # the writer is now waiting
    threads.append(threading.Thread(target=late_reader))
    threads[2].start()
    for thread in threads:
        thread.join(5)
    assert order == ["reader 1 out", "writer", "reader 2"]


def test_two_queries_search_at_the_same_time(monkeypatch):
    """Fails with one lock around everything: the second query could not enter the search."""
    clf = FewShotClassifier()
    clf.register_many({"a": np.eye(4)[:1], "b": np.eye(4)[1:2]})
    inside = threading.Barrier(2, timeout=5)
    search = clf.index.search_prepared

    def meeting_search(queries: np.ndarray, k: int):
        inside.wait()
        return search(queries, k)

    monkeypatch.setattr(clf.index, "search_prepared", meeting_search)
    errors: list[BaseException] = []

    def ask() -> None:
        try:
            assert clf.predict(np.eye(4)[:1]) == ["a"]
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == []


def shots_of(label: str) -> np.ndarray:
    """Fixed shots per label; registering them again leaves the prototype where it was."""
    return (
        np.random.default_rng(zlib.crc32(label.encode())).normal(size=(3, DIM)).astype(np.float32)
    )


def unit_prototype(label: str) -> np.ndarray:
    """The stored vector for cosine: the mean of unit shots, itself made unit length."""
    shots = shots_of(label)
    mean = (shots / np.linalg.norm(shots, axis=1, keepdims=True)).mean(axis=0)
    return mean / np.linalg.norm(mean)


def test_eight_threads_ten_thousand_operations():
    clf = FewShotClassifier()
    owned = {
        worker: [f"w{worker}-c{j}" for j in range(LABELS_PER_THREAD)] for worker in range(THREADS)
    }
    prototypes = {label: unit_prototype(label) for labels in owned.values() for label in labels}
    clf.register("anchor", np.ones((1, DIM)))  # never removed, so queries always have a class
    prototypes["anchor"] = np.ones(DIM) / np.sqrt(DIM)
    ever_registered = {"anchor"}
    replay: dict[int, dict[str, int]] = {}  # per worker: label → shots, from completed calls
    failures: list[str] = []
    start = threading.Barrier(THREADS, timeout=30)

    def check_answer(queries: np.ndarray, labels: np.ndarray, scores: np.ndarray) -> None:
        for row, query in enumerate(queries):
            named = [label for label in labels[row] if label is not None]
            found = scores[row][np.isfinite(scores[row])]
            if len(set(named)) != len(named) or (np.diff(found) > 1e-6).any():
                failures.append(f"row not distinct/sorted: {labels[row]} {scores[row]}")
            for label, score in zip(labels[row], scores[row]):
                if label is None:
                    continue
                if label not in ever_registered:
                    failures.append(f"answer names {label!r}, never registered")
                    continue
                unit = query / np.linalg.norm(query)
                expected = float(unit @ prototypes[label])
                if abs(expected - float(score)) > 1e-4:
                    failures.append(f"{label!r}: score {score}, recomputed {expected}")

    def work(worker: int) -> None:
        rng = np.random.default_rng(worker)
        mine: dict[str, int] = {}
        start.wait()
        try:
            for _ in range(OPS_PER_THREAD):
                roll = rng.random()
                label = str(rng.choice(owned[worker]))
                if roll < 0.25:
                    ever_registered.add(label)
                    clf.register(label, shots_of(label))
                    mine[label] = mine.get(label, 0) + 3
                elif roll < 0.30:
                    pair = [str(x) for x in rng.choice(owned[worker], 2, replace=False)]
                    ever_registered.update(pair)
                    clf.register_many({name: shots_of(name) for name in pair})
                    for name in pair:
                        mine[name] = mine.get(name, 0) + 3
                elif roll < 0.45:
                    if label in mine:
                        clf.remove(label)
                        del mine[label]
                elif roll < 0.80:
                    queries = rng.normal(size=(int(rng.integers(1, 8)), DIM)).astype(np.float32)
                    result = clf.query(queries, k=3)
                    check_answer(queries, result.labels, result.scores)
                else:
                    queries = rng.normal(size=(4, DIM)).astype(np.float32)
                    predicted = clf.predict(queries)
                    if any(p not in ever_registered for p in predicted):
                        failures.append(f"predict named an unknown label: {predicted}")
        except Exception as exc:
            failures.append(f"worker {worker}: {exc!r}")
        replay[worker] = mine

    threads = [threading.Thread(target=work, args=(w,)) for w in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(thread.is_alive() for thread in threads), "a worker hung"
    assert failures == [], failures[:5]

    expected = {"anchor": 1}
    for mine in replay.values():
        expected.update(mine)
    assert set(clf.labels) == set(expected) and len(clf.labels) == len(expected)
    assert {label: clf.num_shots(label) for label in clf.labels} == expected
    assert len(clf.index) == len(expected)  # prototype mode: one vector per class
    assert len(set(clf.index.ids().tolist())) == len(expected)  # no stale or doubled vector
    answer = clf.query(np.stack([prototypes[label] for label in expected]), k=1)
    assert answer.labels[:, 0].tolist() == list(expected)


def test_knn_store_stays_consistent_under_concurrent_writes():
    clf = FewShotClassifier(mode="knn", n_neighbors=3)
    labels = [f"c{i}" for i in range(12)]
    failures: list[str] = []

    def writer(worker: int) -> None:
        rng = np.random.default_rng(100 + worker)
        for _ in range(150):
            label = labels[worker * 3 + int(rng.integers(3))]
            try:
                if label in clf and rng.random() < 0.4:
                    clf.remove(label)
                else:
                    clf.register(label, shots_of(label))
            except Exception as exc:
                failures.append(repr(exc))

    def reader() -> None:
        rng = np.random.default_rng(7)
        for _ in range(300):
            try:
                result = clf.query(rng.normal(size=(3, DIM)), k=2)
                assert set(result.labels.ravel()) <= {*labels, None}
            except Exception as exc:
                if "no class is registered" not in str(exc):
                    failures.append(repr(exc))

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    threads += [threading.Thread(target=reader) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []
    total = sum(clf.num_shots(label) for label in clf.labels)
    assert len(clf.index) == total  # knn mode: every shot, none left behind by a removal
    assert len(set(clf.index.ids().tolist())) == total
