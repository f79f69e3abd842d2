"""pgvector (exact and HNSW) against the in-process FAISS flat store, on the same vectors.

N clustered 384-d vectors (1000 centres) are registered as N classes of one shot each in
prototype mode, so each store searches N vectors, through ``FewShotClassifier`` with
``store="flat"`` and ``store="pgvector"`` (a local PostgreSQL 18 + pgvector 0.8.5 started
here, unix socket). Reported: register time, query time for batches of 1 and 1000 held-out
queries (exact pgvector at 10⁵ takes ~70 s per 1000, so it times 100 there and says so),
top-1 label agreement and recall@10 against FAISS, and the HNSW index build time.

    python benchmarks/pgvector_vs_faiss.py --quick   # 10⁴ only
    python benchmarks/pgvector_vs_faiss.py           # 10⁴ and 10⁵
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import load_average, print_table, write_json
from fewshot import FewShotClassifier
from fewshot.stores.pgvector.local_server import local_server

DIM = 384
COLUMNS = ["stored", "store", "register_s", "batch", "query_ms", "top1_agree", "recall_at_10"]


def clustered(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n×DIM`` points around 1000 random centres, and 1000 held-out queries."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((1000, DIM), dtype=np.float32)
    points = centres[np.arange(n) % 1000] + 0.6 * rng.standard_normal((n, DIM), dtype=np.float32)
    queries = centres[rng.integers(0, 1000, 1000)] + 0.6 * rng.standard_normal(
        (1000, DIM), dtype=np.float32
    )
    return points, queries


def timed(function, repeats: int) -> float:
    """Median seconds of ``repeats`` calls (after one warm-up call)."""
    function()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def agreement(labels: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """Top-1 agreement and recall@10 of ``labels`` (N×10) against ``truth`` (N×10)."""
    top1 = float(np.mean(labels[:, 0] == truth[:, 0]))
    recall = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(labels, truth)]))
    return top1, recall


def measure(n: int, dsn: str) -> list[dict]:
    points, queries = clustered(n)
    classes = {i: points[i : i + 1] for i in range(n)}
    rows = []
    flat = FewShotClassifier(store="flat")
    start = time.perf_counter()
    flat.register_many(classes)
    flat_register = time.perf_counter() - start
    truth = flat.query(queries, k=10).labels
    table = {"dsn": dsn, "table": f"bench_{n}"}
    exact = FewShotClassifier(store="pgvector", store_options=table)
    exact.clear()
    start = time.perf_counter()
    exact.register_many(classes)
    pg_register = time.perf_counter() - start
    exact_batch = 1000 if n <= 10_000 else 100
    stores = [
        ("faiss flat", flat, flat_register, 1000, 3),
        ("pg exact", exact, pg_register, exact_batch, 1),
    ]
    for ef in (40, 100):
        hnsw = FewShotClassifier(
            store="pgvector", store_options={**table, "index": "hnsw", "ef_search": ef}
        )
        start = time.perf_counter()
        hnsw.query(queries[:1], k=10)  # the first query of a set builds its HNSW graph
        build = time.perf_counter() - start
        stores.append((f"pg hnsw ef={ef}", hnsw, build if ef == 40 else 0.0, 1000, 1))
    for name, clf, register_s, big, repeats in stores:
        labels = clf.query(queries[:big], k=10).labels
        top1, recall = agreement(labels, truth[:big])
        for batch, count in ((1, 30), (big, repeats)):
            seconds = timed(lambda: clf.query(queries[:batch], k=10), count)  # noqa: B023
            rows.append(
                {
                    "stored": n,
                    "store": name,
                    "register_s": round(register_s, 3),
                    "batch": batch,
                    "query_ms": round(1000 * seconds, 2),
                    "top1_agree": round(top1, 4),
                    "recall_at_10": round(recall, 4),
                }
            )
        print_table(rows[-2:], COLUMNS)
    exact.clear()
    for _, clf, *_ in stores:
        clf.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10⁴ stored vectors only")
    args = parser.parse_args()
    sizes = [10_000] if args.quick else [10_000, 100_000]
    rows: list[dict] = []
    with local_server() as server:
        for n in sizes:
            rows += measure(n, server.dsn)
    print()
    print_table(rows, COLUMNS)
    notes = (
        "register_s of an HNSW row: the index build on first query (m=16, ef_construction=64, "
        "maintenance_work_mem 256MB); top1/recall for pg exact at 10^5 are over the 100 "
        "queries it timed. pg numbers include the round trip over a unix socket."
    )
    name = "pgvector_vs_faiss_quick" if args.quick else "pgvector_vs_faiss"
    path = write_json(
        name,
        {
            "command": "python benchmarks/pgvector_vs_faiss.py"
            + (" --quick" if args.quick else ""),
            "dim": DIM,
            "notes": notes,
            "load_average": load_average(),
            "rows": rows,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
