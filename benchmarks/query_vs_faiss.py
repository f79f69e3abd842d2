"""How much does FewShotClassifier.query cost over a raw FAISS search on the same vectors?

Stores N class prototypes (d-dimensional, cosine) both in a bare ``IndexFlatIP`` (vectors and
queries normalised beforehand, outside the timing) and in a ``FewShotClassifier(encoder=None)``
(which validates, normalises and maps ids to labels inside the timing), then times batches of
1 and 1000 queries through each, interleaved, median of several runs. Goal (issue 6): ≤ 1.10×.

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
from fewshot.runtime import faiss

QUICK = [(10_000, 64), (10_000, 1280), (100_000, 64)]
FULL = [(n, d) for n in (10_000, 100_000) for d in (64, 384, 1280)] + [
    (1_000_000, 64),
    (1_000_000, 128),
]
COLUMNS = ["stored", "dim", "batch", "raw_faiss_ms", "fewshot_query_ms", "ratio", "agreement"]


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
    """Median ms per call of raw FAISS and of ``clf.query`` on the same ``B×d`` queries."""
    unit = queries.copy()
    faiss.normalize_L2(unit)
    ours = clf.query(queries, k=k)
    _, raw_ids = raw.search(unit, k)
    agreement = float(np.mean(ours.labels.astype(np.int64) == raw_ids))
    once = time.perf_counter()
    raw.search(unit, k)
    number = max(1, int(0.02 / max(time.perf_counter() - once, 1e-6)))  # ~20 ms per sample
    medians = interleaved_medians(
        {
            "raw_faiss": lambda: raw.search(unit, k),
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
        "raw_faiss_ms": medians["raw_faiss"] * 1e3,
        "fewshot_query_ms": medians["fewshot_query"] * 1e3,
        "ratio": medians["fewshot_query"] / medians["raw_faiss"],
        "agreement": agreement,
        "calls_per_sample": number,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="three small configurations")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    rows = []
    load_before = load_average()
    for n, dim in QUICK if args.quick else FULL:
        clf, raw, queries = build(n, dim)
        for batch in (1, 1000):
            rows.append(measure(clf, raw, queries[:batch], args.k, args.repeats))
            print_table(rows[-1:], COLUMNS)
        del clf, raw
    print()
    print_table(rows, COLUMNS)
    payload = {"command": " ".join(sys.argv), "load_average_at_start": load_before, "rows": rows}
    print("wrote", write_json("query_vs_faiss", payload))


if __name__ == "__main__":
    main()
