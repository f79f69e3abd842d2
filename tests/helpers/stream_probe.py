"""Helper for test_streaming: peak memory of a streamed registration, in a fresh process.

Usage: ``python stream_probe.py flat|pgvector ROWS DIM [DSN TABLE]``; registers ROWS feature
rows of 100 labels, generated 1000 at a time (never held whole), as (rows, labels) batches,
and prints JSON with the rows' raw size and the growth of peak RSS during the call, in MiB.
"""

from __future__ import annotations

import json
import resource
import sys

import numpy as np

from fewshot import FewShotClassifier


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def batches(rows: int, dim: int):
    rng = np.random.default_rng(0)
    for start in range(0, rows, 1000):
        count = min(1000, rows - start)
        yield rng.normal(size=(count, dim)).astype(np.float32), [i % 100 for i in range(count)]


def main() -> None:
    backend, rows, dim = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    options = {"dsn": sys.argv[4], "table": sys.argv[5]} if backend == "pgvector" else {}
    clf = FewShotClassifier(store=backend, store_options=options)
    clf.register_many(batches(2000, dim), progress=False)  # warm up: table, imports, pools
    before = peak_mib()
    registered = clf.register_many(batches(rows, dim), chunk_size=2048, progress=False)
    grown = peak_mib() - before
    assert registered == rows and sum(clf.num_shots(i) for i in range(100)) == rows + 2000
    print(json.dumps({"input_mib": rows * dim * 4 / 2**20, "peak_growth_mib": grown}))
    clf.close()


if __name__ == "__main__":
    main()
