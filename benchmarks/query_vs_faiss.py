"""How much does FewShotClassifier.query cost over a raw FAISS search on the same vectors?

Stores N class prototypes (d-dimensional, cosine) both in a bare ``IndexFlatIP`` and in a
``FewShotClassifier(encoder=None)``, then times a batch of queries through each, interleaved,
median of several runs. Goal (issue 2): ratio ≤ 1.10.

    python benchmarks/query_vs_faiss.py            # N = 1e4, 1e5; d = 384; 1000 queries
    python benchmarks/query_vs_faiss.py --quick    # N = 1e4 only
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import interleaved_medians, print_table, write_json
from fewshot import FewShotClassifier
from fewshot.runtime import faiss


def measure(n: int, dim: int, n_queries: int, k: int, repeats: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n, dim), dtype=np.float32)
    queries = rng.standard_normal((n_queries, dim), dtype=np.float32)
    start = time.perf_counter()
    clf = FewShotClassifier(encoder=None)
    clf.register_many({f"class-{i}": vectors[i : i + 1] for i in range(n)})
    register_s = time.perf_counter() - start

    raw = faiss.IndexFlatIP(dim)
    unit = vectors.copy()
    faiss.normalize_L2(unit)
    raw.add(unit)
    unit_queries = queries.copy()
    faiss.normalize_L2(unit_queries)

    ours = clf.query(queries, k=k)
    _, raw_ids = raw.search(unit_queries, k)
    agree = float(
        np.mean(ours.labels == np.array([f"class-{i}" for i in range(n)], dtype=object)[raw_ids])
    )
    medians = interleaved_medians(
        {
            "raw_faiss": lambda: raw.search(unit_queries, k),
            "fewshot_query": lambda: clf.query(queries, k=k),
        },
        repeats=repeats,
    )
    return {
        "stored": n,
        "dim": dim,
        "queries": n_queries,
        "k": k,
        "raw_faiss_ms": medians["raw_faiss"] * 1e3,
        "fewshot_query_ms": medians["fewshot_query"] * 1e3,
        "ratio": medians["fewshot_query"] / medians["raw_faiss"],
        "top_k_agreement": agree,
        "register_s": register_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only 1e4 stored vectors")
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    sizes = [10_000] if args.quick else [10_000, 100_000]
    rows = [measure(n, args.dim, args.queries, args.k, args.repeats) for n in sizes]
    print_table(
        rows,
        [
            "stored",
            "dim",
            "queries",
            "k",
            "raw_faiss_ms",
            "fewshot_query_ms",
            "ratio",
            "top_k_agreement",
            "register_s",
        ],
    )
    print("wrote", write_json("query_vs_faiss", {"command": " ".join(sys.argv), "rows": rows}))


if __name__ == "__main__":
    main()
