"""Concurrent load-change-save cycles never lose a change: parallel CLI registrations and
removals, and ``FewShotClassifier.editing`` from several processes, all land."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from fewshot import FewShotClassifier

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(REPO)}


def cli(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fewshot", *argv],
        capture_output=True,
        text=True,
        timeout=180,
        env=ENV,
        cwd=REPO,
    )


def test_parallel_cli_registrations_all_land(tmp_path):
    store = tmp_path / "store"
    vectors = {}
    for i in range(6):
        vectors[i] = tmp_path / f"v{i}.npy"
        np.save(vectors[i], np.eye(6)[i : i + 1])
    new = ["register", "--store", str(store), "--encoder", "features"]
    with ThreadPoolExecutor(max_workers=6) as pool:
        runs = list(
            pool.map(lambda i: cli(*new, "--label", f"class-{i}", str(vectors[i])), range(6))
        )
    assert [run.returncode for run in runs] == [0] * 6, [run.stderr[-500:] for run in runs]
    counts = sorted(json.loads(run.stdout)["classes"] for run in runs)
    assert counts == [1, 2, 3, 4, 5, 6]  # each saw the ones before it: none lost, none doubled
    loaded = FewShotClassifier.load(store)
    assert sorted(loaded.labels) == [f"class-{i}" for i in range(6)]
    assert loaded.predict(np.eye(6)) == [f"class-{i}" for i in range(6)]


EDIT = """
import sys
import numpy as np
from fewshot import FewShotClassifier
store, worker = sys.argv[1], int(sys.argv[2])
for round_ in range(5):
    with FewShotClassifier.editing(store) as clf:
        clf.register(f"w{worker}-{round_}", np.eye(4)[worker : worker + 1])
        if round_ % 2:
            clf.remove(f"w{worker}-{round_ - 1}")
"""


def test_editing_from_several_processes_loses_nothing(tmp_path):
    store = tmp_path / "store"
    FewShotClassifier(store="flat").save(store)
    workers = [
        subprocess.Popen([sys.executable, "-c", EDIT, str(store), str(w)], env=ENV, cwd=REPO)
        for w in range(3)
    ]
    assert [worker.wait(180) for worker in workers] == [0, 0, 0]
    expected = {f"w{w}-{r}" for w in range(3) for r in (1, 2, 3, 4) if r != 2 and r != 0}
    expected |= {f"w{w}-4" for w in range(3)}
    assert set(FewShotClassifier.load(store).labels) == expected


def test_editing_saves_nothing_when_the_block_fails(tmp_path):
    store = tmp_path / "store"
    try:
        with FewShotClassifier.editing(store) as clf:
            clf.register("a", np.eye(3)[:1])
            raise RuntimeError("changed my mind")
    except RuntimeError:
        pass
    assert not store.exists()  # the folder it created is gone again
    with FewShotClassifier.editing(store, metric="euclidean") as clf:
        clf.register("a", np.eye(3)[:1])
    loaded = FewShotClassifier.load(store)
    assert loaded.labels == ["a"] and loaded.metric == "euclidean"
