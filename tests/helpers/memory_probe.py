"""Helper for test_bad_input: peak extra memory of one huge query or register, in a fresh process.

Usage: ``python memory_probe.py query|register ROWS DIM``; prints JSON with the input's size and
the growth of peak RSS (``resource.getrusage``) during the call, both in MiB.
"""

from __future__ import annotations

import json
import resource
import sys

import numpy as np

from fewshot import FewShotClassifier


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def main() -> None:
    what, rows, dim = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rng = np.random.default_rng(0)
    clf = FewShotClassifier()
    clf.register_many({f"c{i}": rng.normal(size=(3, dim)) for i in range(100)})
    clf.query(rng.normal(size=(10, dim)), k=3)  # warm up FAISS and numpy
    batch = rng.normal(size=(rows, dim))  # float64, as users usually hold features
    before = peak_mib()
    if what == "query":
        result = clf.query(batch, k=3)
        assert result.labels.shape == (rows, 3)
    else:
        clf.register("huge", batch)
        assert clf.num_shots("huge") == rows
    print(json.dumps({"input_mib": batch.nbytes / 2**20, "peak_growth_mib": peak_mib() - before}))


if __name__ == "__main__":
    main()
