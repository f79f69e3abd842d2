"""runtime.search picks kernel and threads by batch size without changing results or settings."""

from __future__ import annotations

import numpy as np

from fewshot.runtime import BLAS_MIN_QUERIES, faiss, search


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
