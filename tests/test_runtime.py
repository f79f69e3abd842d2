"""Process-wide runtime settings: OpenMP's wait policy, and search kernels by batch size."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from fewshot.runtime import BLAS_MIN_QUERIES, faiss, search

REPO = Path(__file__).resolve().parent.parent


def policy_after(code: str, **env: str) -> str:
    environment = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"} | env
    script = code + "; import os; print(os.environ.get('OMP_WAIT_POLICY', 'unset'))"
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=environment, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()[-1]


def test_passive_when_fewshot_loads_torch_and_user_choice_otherwise():
    assert policy_after("import fewshot") == "PASSIVE"
    assert policy_after("import torch, fewshot") == "unset"  # too late to matter: left alone
    assert policy_after("import fewshot", OMP_WAIT_POLICY="ACTIVE") == "ACTIVE"


def test_small_and_large_batches_match_plain_search_and_restore_threads():
    rng = np.random.default_rng(3)
    index = faiss.IndexFlatIP(32)
    index.add(rng.standard_normal((500, 32), dtype=np.float32))
    threads = faiss.omp_get_max_threads()
    for batch in (1, BLAS_MIN_QUERIES - 1, BLAS_MIN_QUERIES, 50):
        queries = rng.standard_normal((batch, 32), dtype=np.float32)
        scores, ids = search(index, queries, 5)
        expected = np.argsort(
            -(queries @ faiss.rev_swig_ptr(index.get_xb(), 500 * 32).reshape(500, 32).T), axis=1
        )[:, :5]
        np.testing.assert_array_equal(ids, expected)
        assert scores.shape == (batch, 5)
        assert faiss.omp_get_max_threads() == threads
