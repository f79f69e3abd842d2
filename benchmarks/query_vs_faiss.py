"""How much does FewShotClassifier.query cost over a raw FAISS search on the same vectors?

Stores N class prototypes (d-dimensional, cosine) both in a bare ``IndexFlatIP`` (vectors and
queries normalised beforehand, outside the timing) and in a ``FewShotClassifier(encoder=None)``
(which validates, normalises and maps ids to labels inside the timing), then times batches of
1 and 1000 queries through each, interleaved, median of several runs. Raw FAISS runs twice:
"stock" (FAISS's own BLAS threshold, the process's threads) and "tuned" (through
``fewshot.runtime.search``: the kernel and threads fewshot picks), so ``ratio`` (ours / tuned)
is the classifier's own overhead, goal ≤ 1.10×, and ``ratio_vs_stock`` what a user gains.

    python benchmarks/query_vs_faiss.py --quick   # N = 1e4 (d = 64, 1280), 1e5 (d = 64)
    python benchmarks/query_vs_faiss.py           # N = 1e4, 1e5 × d = 64, 384, 1280; 1e6 × 64, 128
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import interleaved_medians, load_average, print_table, write_json
from fewshot import FewShotClassifier
from fewshot.runtime import faiss, search

QUICK = [(10_000, 64), (10_000, 1280), (100_000, 64)]
FULL = [(n, d) for n in (10_000, 100_000) for d in (64, 384, 1280)] + [
    (1_000_000, 64),
    (1_000_000, 128),
]
COLUMNS = ["stored", "dim", "batch", "raw_stock_ms", "raw_tuned_ms", "fewshot_query_ms", "ratio"]
COLUMNS += ["ratio_vs_stock", "agreement"]
FAISS_STOCK_BLAS_THRESHOLD = 128_000  # faiss 1.15's own default, before fewshot's


def build(n: int, dim: int, seed: int = 0) -> tuple[FewShotClassifier, faiss.Index, np.ndarray]:
    """The same N random d-dim vectors in a classifier (one class each) and a bare IndexFlatIP."""
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n, dim), dtype=np.float32)
    clf = FewShotClassifier(encoder=None)
    clf.register_many({i: vectors[i : i + 1] for i in range(n)})
    faiss.normalize_L2(vectors)  # in place: the classifier keeps its own normalised copy
    raw = faiss.IndexFlatIP(dim)
    raw.add(vectors)
    return clf, raw, rng.standard_normal((1000, dim), dtype=np.float32)


def measure(
    clf: FewShotClassifier, raw: faiss.Index, queries: np.ndarray, k: int, repeats: int
) -> dict:
    """Median ms per call of raw FAISS (stock and tuned settings) and ``clf.query`` (``B×d``)."""
    unit = queries.copy()
    faiss.normalize_L2(unit)
    ours = clf.query(queries, k=k)
    _, raw_ids = raw.search(unit, k)
    agreement = float(np.mean(ours.labels.astype(np.int64) == raw_ids))

    def stock() -> None:
        faiss.cvar.distance_compute_blas_threshold = FAISS_STOCK_BLAS_THRESHOLD
        raw.search(unit, k)

    once = time.perf_counter()
    search(raw, unit, k)
    number = max(1, int(0.02 / max(time.perf_counter() - once, 1e-6)))  # ~20 ms per sample
    medians = interleaved_medians(
        {
            "raw_stock": stock,
            "raw_tuned": lambda: search(raw, unit, k),
            "fewshot_query": lambda: clf.query(queries, k=k),
        },
        repeats=repeats,
        number=number,
    )
    return {
        "stored": raw.ntotal,
        "dim": raw.d,
        "batch": len(queries),
        "k": k,
        "raw_stock_ms": medians["raw_stock"] * 1e3,
        "raw_tuned_ms": medians["raw_tuned"] * 1e3,
        "fewshot_query_ms": medians["fewshot_query"] * 1e3,
        "ratio": medians["fewshot_query"] / medians["raw_tuned"],
        "ratio_vs_stock": medians["fewshot_query"] / medians["raw_stock"],
        "agreement": agreement,
        "calls_per_sample": number,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="three small configurations")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--configs", nargs="+", metavar="N:D", help="e.g. 1000000:64 (overrides)")
    args = parser.parse_args()
    configs = QUICK if args.quick else FULL
    if args.configs:
        configs = [tuple(int(part) for part in item.split(":")) for item in args.configs]
    rows = []
    load_before = load_average()
    for n, dim in configs:
        clf, raw, queries = build(n, dim)
        for batch in (1, 1000):
            rows.append(measure(clf, raw, queries[:batch], args.k, args.repeats))
            print_table(rows[-1:], COLUMNS)
        del clf, raw
    print()
    print_table(rows, COLUMNS)
    payload = {"command": " ".join(sys.argv), "load_average_at_start": load_before, "rows": rows}
    name = "query_vs_faiss" + (
        "_" + "_".join(args.configs).replace(":", "x") if args.configs else ""
    )
    print("wrote", write_json(name, payload))


if __name__ == "__main__":
    main()
