"""Forked children (multiprocessing, DataLoader workers) can query after the parent searched with
several threads; without the guard in fewshot.runtime the child hangs forever (faiss#5206).

Each scenario runs in a fresh interpreter under a timeout, so a hang fails the test instead of
stalling the suite.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

PARENT_SEARCHES = """
import multiprocessing, sys
import numpy as np
import fewshot

fewshot.set_num_threads(2)  # several OpenMP threads in the parent's searches
clf = fewshot.FewShotClassifier()
rng = np.random.default_rng(0)
clf.register_many({f"c{i}": rng.normal(size=(2, 64)) for i in range(2000)})
queries = rng.normal(size=(2000, 64))
expected = clf.predict(queries[:50])
for _ in range(3):
    clf.query(queries, k=3)
"""

MULTIPROCESSING_CHILD = """
def child(out):
    clf.query(queries, k=3)  # a big batch: OpenMP would go parallel here
    out.put(clf.predict(queries[:50]))

context = multiprocessing.get_context("fork")
out = context.Queue()
process = context.Process(target=child, args=(out,))
process.start()
process.join(20)
if process.is_alive():
    process.kill()
    sys.exit("HUNG: the forked child did not finish its query")
assert out.get(timeout=5) == expected
print("OK")
"""

DATALOADER_WORKERS = """
import torch

class Queries(torch.utils.data.Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        return np.array(clf.predict(queries[i * 500 : (i + 1) * 500]), dtype=object).tolist()

loader = torch.utils.data.DataLoader(
    Queries(), batch_size=None, num_workers=2, multiprocessing_context="fork", timeout=20
)
predicted = [label for batch in loader for label in batch]
assert predicted[:50] == expected
print("OK")
"""


def run_script(body: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    try:
        return subprocess.run(
            [sys.executable, "-c", textwrap.dedent(PARENT_SEARCHES + body)],
            capture_output=True,
            text=True,
            timeout=90,
            env=env,
            cwd=REPO,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the scenario hung for {exc.timeout} s")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_multiprocessing_fork_child_can_query_after_parent_searched():
    result = run_script(MULTIPROCESSING_CHILD)
    assert result.returncode == 0 and "OK" in result.stdout, result.stdout + result.stderr


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_dataloader_workers_can_query_after_parent_searched():
    result = run_script(DATALOADER_WORKERS)
    assert result.returncode == 0 and "OK" in result.stdout, result.stdout + result.stderr


def test_forked_child_runs_one_thread():
    """The guard itself: a forked child starts with one FAISS and one torch thread."""
    result = run_script(
        """
import os
from fewshot.runtime import faiss
import torch
pid = os.fork()
if pid == 0:
    ok = faiss.omp_get_max_threads() == 1 and torch.get_num_threads() == 1
    os._exit(0 if ok else 3)
print("child exit", os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
"""
    )
    assert "child exit 0" in result.stdout, result.stdout + result.stderr
