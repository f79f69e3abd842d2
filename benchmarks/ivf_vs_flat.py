"""What does the approximate IVF store buy over exact flat search, and what does it cost in recall?

N clustered vectors (``classes`` centres, ``N/classes`` vectors each, like shots of classes) go
into a ``FlatStore`` and an ``IVFStore`` under the same ids (label = id // per-class count).
For the default ``nprobe`` (full mode: also 4, 16, 64) it times batches of 1 and 1000 queries (held-out points of the same
classes) interleaved with flat, and reports recall@10 against flat and the agreement of the
top-1 label and of the 10-NN majority label.

    python benchmarks/ivf_vs_flat.py --quick   # 1e5 × 64-d
    python benchmarks/ivf_vs_flat.py           # 1e6 × 64-d and 1e6 × 128-d
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import interleaved_medians, load_average, print_table, write_json
from fewshot.stores import FlatStore
from fewshot.stores.ivf import IVFStore

COLUMNS = ["stored", "dim", "nlist", "nprobe", "batch", "flat_ms", "ivf_ms", "speedup"]
COLUMNS += ["recall_at_10", "top1_label_agree", "knn10_label_agree"]


def clustered(n: int, dim: int, classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n×dim`` points, ``n // classes`` per class around random centres; and queries (1000)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((classes, dim), dtype=np.float32)
    labels = np.arange(n) // (n // classes)
    noise = 0.6 * rng.standard_normal((n, dim), dtype=np.float32)
    query_labels = rng.integers(0, classes, 1000)
    queries = centres[query_labels] + 0.6 * rng.standard_normal((1000, dim), dtype=np.float32)
    return centres[labels] + noise, queries


def majority(labels: np.ndarray) -> np.ndarray:
    """The most frequent label in each row (ties: the smallest)."""
    return np.array([np.bincount(row).argmax() for row in labels])


def measure(n: int, dim: int, classes: int, repeats: int, nprobes: list[int]) -> list[dict]:
    vectors, queries = clustered(n, dim, classes, seed=0)
    ids = np.arange(n, dtype=np.int64)
    per_class = n // classes
    flat = FlatStore(dim)
    flat.add(vectors, ids)
    start = time.perf_counter()
    approx = IVFStore(dim, train_at=n)
    approx.add(vectors, ids)
    build_s = time.perf_counter() - start
    del vectors
    _, exact = flat.search(queries, 10)
    default = approx.nprobe
    rows = []
    for nprobe in sorted({default, *nprobes}):
        approx.nprobe = nprobe
        _, found = approx.search(queries, 10)
        recall = np.mean([len(np.intersect1d(a, b)) / 10 for a, b in zip(found, exact)])
        top1 = np.mean(found[:, 0] // per_class == exact[:, 0] // per_class)
        knn = np.mean(majority(np.maximum(found, 0) // per_class) == majority(exact // per_class))
        for batch in (1, 1000):
            part = queries[:batch]
            number = 20 if batch == 1 else 1
            medians = interleaved_medians(
                {
                    "flat": lambda part=part: flat.search(part, 10),
                    "ivf": lambda part=part: approx.search(part, 10),
                },
                repeats=repeats,
                number=number,
            )
            rows.append(
                {
                    "stored": n,
                    "dim": dim,
                    "nlist": int(approx.index.nlist),
                    "nprobe": nprobe,
                    "default_nprobe": nprobe == default,
                    "batch": batch,
                    "flat_ms": medians["flat"] * 1e3,
                    "ivf_ms": medians["ivf"] * 1e3,
                    "speedup": medians["flat"] / medians["ivf"],
                    "recall_at_10": float(recall),
                    "top1_label_agree": float(top1),
                    "knn10_label_agree": float(knn),
                    "ivf_build_s": build_s,
                }
            )
            print_table(rows[-1:], COLUMNS)
    approx.nprobe = default
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dims", nargs="+", type=int, default=[64, 128], help="full mode only")
    args = parser.parse_args()
    configs = [(100_000, 64)] if args.quick else [(1_000_000, dim) for dim in args.dims]
    nprobes = [] if args.quick else [4, 16, 64]  # besides the default
    load_before = load_average()
    rows = []
    for n, dim in configs:
        rows += measure(n, dim, classes=n // 100, repeats=args.repeats, nprobes=nprobes)
    print()
    print_table(rows, COLUMNS)
    payload = {"command": " ".join(sys.argv), "load_average_at_start": load_before, "rows": rows}
    print("wrote", write_json("ivf_vs_flat", payload))


if __name__ == "__main__":
    main()
