"""Two processes on one pgvector table, and streaming registration of 10⁶ vectors.

1. Visibility: process A registers a new class; process B (its own classifier, opened once,
   never reloaded) polls ``predict`` on a vector of that class. Reported: wall time from A's
   ``register`` returning to B's first correct answer (same machine, ``time.time()``), over 20
   rounds, and B's poll round trip.
2. Memory: ROWS×64 float32 feature rows, generated 1000 at a time, streamed by
   ``register_many`` (chunks of 4096) into ``flat`` and into ``pgvector``, each in a fresh
   process; reported: peak RSS growth of that process against the rows' raw bytes, and rows/s.

    python benchmarks/pgvector_sharing.py --quick   # 10⁵ rows
    python benchmarks/pgvector_sharing.py           # 10⁶ rows
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import load_average, print_table, write_json
from fewshot import FewShotClassifier
from fewshot.stores.pgvector.local_server import local_server

DIM = 64
ROUNDS = 20


def probe_vector(round_: int) -> np.ndarray:
    return 10 * np.random.default_rng(1000 + round_).standard_normal((1, DIM))


def follow(dsn: str, table: str) -> None:
    """Process B: for each round, poll until the round's class is predicted."""
    clf = FewShotClassifier(store="pgvector", store_options={"dsn": dsn, "table": table})
    for round_ in range(ROUNDS):
        probe, polls, started = probe_vector(round_), 0, time.perf_counter()
        print(json.dumps({"waiting": round_}), flush=True)
        while clf.predict(probe) != [f"new{round_}"]:
            polls += 1
        seen = time.time()
        poll_ms = 1000 * (time.perf_counter() - started) / max(polls, 1)
        print(json.dumps({"round": round_, "seen": seen, "polls": polls, "poll_ms": poll_ms}))
        sys.stdout.flush()
    clf.close()


def visibility(dsn: str) -> dict:
    options = {"dsn": dsn, "table": "sharing"}
    a = FewShotClassifier(store="pgvector", store_options=options)
    a.clear()
    a.register_many({i: np.random.default_rng(i).standard_normal((3, DIM)) for i in range(100)})
    b = subprocess.Popen(
        [sys.executable, __file__, "--follow", dsn, "sharing"], stdout=subprocess.PIPE, text=True
    )
    delays, polls = [], []
    assert b.stdout is not None
    for round_ in range(ROUNDS):
        assert json.loads(b.stdout.readline()) == {"waiting": round_}
        time.sleep(0.05)  # B is polling now
        a.register(f"new{round_}", probe_vector(round_))
        returned = time.time()
        seen = json.loads(b.stdout.readline())
        delays.append(1000 * (seen["seen"] - returned))
        polls.append(seen["poll_ms"])
    b.wait(60)
    a.clear()
    a.close()
    return {
        "rounds": ROUNDS,
        "delay_ms_median": round(statistics.median(delays), 3),
        "delay_ms_max": round(max(delays), 3),
        "delay_ms_all": [round(d, 3) for d in delays],
        "poll_round_trip_ms_median": round(statistics.median(polls), 3),
    }


def probe(backend: str, rows: int, dsn: str) -> None:
    """In a fresh process: stream ``rows`` rows into ``backend``; print peak growth as JSON."""
    options = {"dsn": dsn, "table": "streaming"} if backend == "pgvector" else {}
    clf = FewShotClassifier(store=backend, store_options=options)
    clf.clear()

    def batches(count: int):
        rng = np.random.default_rng(0)
        for start in range(0, count, 1000):
            size = min(1000, count - start)
            yield rng.standard_normal((size, DIM), dtype=np.float32), [i % 100 for i in range(size)]

    clf.register_many(batches(2000), progress=False)  # warm-up: table, pools, imports
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    clf.register_many(batches(rows), chunk_size=4096, progress=False)
    seconds = time.perf_counter() - start
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - before
    assert sum(clf.num_shots(label) for label in clf.labels) == rows + 2000
    raw = rows * DIM * 4 / 2**20
    print(
        json.dumps(
            {
                "store": backend,
                "rows": rows,
                "raw_mib": round(raw, 1),
                "peak_growth_mib": round(grown, 1),
                "growth_over_raw": round(grown / raw, 3),
                "rows_per_s": round(rows / seconds),
            }
        )
    )
    clf.clear()
    clf.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10⁵ streamed rows")
    parser.add_argument("--follow", nargs=2, metavar=("DSN", "TABLE"), help=argparse.SUPPRESS)
    parser.add_argument(
        "--probe", nargs=3, metavar=("STORE", "ROWS", "DSN"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.follow:
        return follow(*args.follow)
    if args.probe:
        return probe(args.probe[0], int(args.probe[1]), args.probe[2])
    rows = 100_000 if args.quick else 1_000_000
    with local_server() as server:
        shared = visibility(server.dsn)
        print(json.dumps(shared, indent=1))
        memory = []
        for backend in ("flat", "pgvector"):
            command = [sys.executable, __file__, "--probe", backend, str(rows), server.dsn]
            output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
            memory.append(json.loads(output.strip().splitlines()[-1]))
    print_table(memory, list(memory[0]))
    path = write_json(
        "pgvector_sharing_quick" if args.quick else "pgvector_sharing",
        {
            "command": "python benchmarks/pgvector_sharing.py" + (" --quick" if args.quick else ""),
            "visibility": shared,
            "streaming": memory,
            "load_average": load_average(),
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
