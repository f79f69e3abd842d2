"""Saves survive SIGKILL at any moment, killed first saves, and concurrent savers and loaders."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from fewshot import FewShotClassifier
from fewshot.store_directory import MARKER_NAME, POINTER_NAME, WORK_DIR, current_snapshot

HELPERS = Path(__file__).resolve().parent.parent / "helpers"
REPO = HELPERS.parent.parent
sys.path.insert(0, str(HELPERS))
from crash_saver import generation  # noqa: E402

KILLS = 25


def generation_of(clf: FewShotClassifier) -> int:
    names = [label for label in clf.labels if str(label).startswith("generation ")]
    assert len(names) == 1, clf.labels
    return int(names[0].split()[1])


def assert_is_generation(clf: FewShotClassifier, g: int) -> None:
    """The loaded classifier holds exactly generation ``g``: its labels, in order, and its shots."""
    expected = generation(g)
    assert clf.labels == list(expected)
    for label, shots in expected.items():
        np.testing.assert_array_equal(clf.shots(label), shots)
    probe = np.stack([shots.mean(axis=0) for shots in expected.values()])
    assert clf.predict(probe) == list(expected)


def leftovers(store: Path) -> set[str]:
    """What killed saves left: entries beside the live snapshot, and inside the work folder
    (whose own name and marker are reused by every save)."""
    live = current_snapshot(store).name
    top = {p.name for p in store.iterdir()} - {POINTER_NAME, live, WORK_DIR}
    work = store / WORK_DIR
    inside = {f"{WORK_DIR}/{p.name}" for p in work.iterdir()} if work.is_dir() else set()
    return top | (inside - {f"{WORK_DIR}/{MARKER_NAME}"})


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_sigkill_at_random_moments_leaves_a_complete_earlier_save(tmp_path):
    store, progress = tmp_path / "store", tmp_path / "progress"
    progress.touch()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(HELPERS)])}
    zygote = subprocess.Popen(
        [sys.executable, str(HELPERS / "crash_saver.py"), str(store), str(progress)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    rng = random.Random(20240611)
    saved, rounds_with_leftovers, previous_leftovers = -1, 0, set()
    deadline = time.monotonic() + 45
    try:
        for kill in range(KILLS):
            assert time.monotonic() < deadline, f"only {kill} kills in the time allowed"
            before = len(progress.read_text().split())
            zygote.stdin.write(f"fork {saved + 1}\n")
            zygote.stdin.flush()
            pid = int(zygote.stdout.readline())
            time.sleep(rng.uniform(0.0, 0.25) if kill else 0.002)  # first: inside the first save
            os.kill(pid, signal.SIGKILL)
            zygote.stdin.write(f"reap {pid}\n")
            zygote.stdin.flush()
            status = int(zygote.stdout.readline())
            assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, status
            completed = [int(g) for g in progress.read_text().split()]
            # The newest generation known to be live: the last save that returned, or the one
            # found live after the previous kill (it may have landed just before that kill).
            last = max([*completed, saved])
            if not (store / POINTER_NAME).exists():
                assert last == -1, "a save returned but CURRENT is missing"
                continue
            clf = FewShotClassifier.load(store)  # verifies every checksum
            g = generation_of(clf)
            assert last <= g <= last + 1, (last, g)  # that one, or the save in flight at the kill
            assert_is_generation(clf, g)
            if len(completed) > before:  # a save finished this round: earlier leftovers are gone
                still = [name for name in previous_leftovers if (store / name).exists()]
                assert not still, (still, leftovers(store))
            previous_leftovers = leftovers(store)
            rounds_with_leftovers += bool(previous_leftovers)
            saved = g
    finally:
        zygote.kill()
        zygote.wait(10)
    assert saved >= 5, f"only {saved + 1} generations saved: every kill came too early"
    clf = FewShotClassifier.load(store)
    clf.save(store)  # an ordinary save cleans whatever the last kill left
    assert leftovers(store) == set()
    print(f"{KILLS} kills, {saved + 1} generations, leftovers after {rounds_with_leftovers} kills")


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_first_save_killed_midway_does_not_block_the_next(tmp_path):
    """What a first save killed at each step leaves (marked as fewshot's) is cleaned by the next."""
    store = tmp_path / "store"
    pid = dead_pid()
    work = store / WORK_DIR
    partial = work / f"snapshot-{time.time_ns()}-{pid}"  # killed while writing
    partial.mkdir(parents=True)
    (work / MARKER_NAME).write_bytes(b'{"format": "fewshot.snapshot"}\n')
    (partial / MARKER_NAME).write_bytes(b"{")
    renamed = store / f"snapshot-{time.time_ns()}-{pid}"  # renamed in, CURRENT not yet written
    renamed.mkdir()
    (renamed / MARKER_NAME).write_bytes(b'{"format": "fewshot.snapshot"}\n')
    (work / f".tmp-CURRENT.{pid}.{time.monotonic_ns()}").write_text("{")
    clf = FewShotClassifier()
    clf.register("a", np.eye(3)[:1])
    clf.save(store)
    assert leftovers(store) == set() and not work.exists()
    assert FewShotClassifier.load(store).labels == ["a"]
    (store / "notes.txt").write_text("mine")  # a user's file is never deleted
    clf.save(store)
    assert (store / "notes.txt").read_text() == "mine"


def test_concurrent_savers_and_loaders_in_one_directory(tmp_path):
    """Saves are serialised by a lock on the directory and loads never see a half-deleted one."""
    store = tmp_path / "store"
    errors: list[str] = []
    writers_done = threading.Event()

    def saver(worker: int) -> None:
        for round_ in range(25):
            clf = FewShotClassifier()
            clf.register_many(
                {f"w{worker}": np.eye(4)[worker : worker + 1], "r": [[round_ + 1] * 4]}
            )
            try:
                clf.save(store)
            except Exception as exc:  # reported below
                errors.append(f"save: {exc!r}")

    def loader() -> None:
        while not writers_done.is_set():
            if not (store / POINTER_NAME).exists():
                continue
            try:
                labels = FewShotClassifier.load(store).labels
                if labels not in (["w0", "r"], ["w1", "r"]):
                    errors.append(f"loaded {labels}")
            except Exception as exc:  # reported below
                errors.append(f"load: {exc!r}")

    savers = [threading.Thread(target=saver, args=(w,)) for w in range(2)]
    readers = [threading.Thread(target=loader) for _ in range(2)]
    for thread in savers + readers:
        thread.start()
    for thread in savers:
        thread.join(60)
    writers_done.set()
    for thread in readers:
        thread.join(60)
    assert errors == [], errors[:3]
    assert leftovers(store) == set()
