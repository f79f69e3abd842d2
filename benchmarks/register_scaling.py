"""Does registering C classes × 5 shots take time and memory linear in C, and how much memory?

Each configuration runs in a fresh child process: it makes the features (C·5 × d float32, the
"raw vector bytes"), then registers them in one ``register_many`` call and measures the RSS
growth and, under ``tracemalloc``, the Python/numpy bytes kept (FAISS's C++ memory is counted
from its index size); then times ``register_many`` and a loop of one ``register`` call per class
(medians of 3 fresh classifiers). Memory goal (issue 6): ≤ 1.2× the raw vector bytes.

    python benchmarks/register_scaling.py --quick   # C = 1e3, 3e3, 1e4; d = 384; prototype
    python benchmarks/register_scaling.py           # also C = 3e4, d = 1280, and knn mode
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import load_average, print_table, write_json

ROOT = Path(__file__).resolve().parent.parent
SHOTS = 5
COLUMNS = ["mode", "classes", "dim", "many_s", "loop_s", "us_per_class", "rss_x", "traced_x"]
COLUMNS += ["faiss_x", "total_x"]


def rss_bytes() -> int:
    """Resident set size of this process."""
    with open("/proc/self/statm") as handle:
        import os

        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def faiss_bytes(clf) -> int:
    """Bytes of the flat store: vectors + id map (8 B) + reverse map (≈ 40 B per id)."""
    store = clf._store
    return len(store) * (store.dim * 4 + 8 + 40)


def child(classes: int, dim: int, mode: str) -> dict:
    import numpy as np

    from fewshot import FewShotClassifier

    rng = np.random.default_rng(0)
    features = rng.standard_normal((classes * SHOTS, dim), dtype=np.float32)
    raw = features.nbytes
    batches = {f"class-{i:06d}": features[i * SHOTS : (i + 1) * SHOTS] for i in range(classes)}

    def build() -> FewShotClassifier:
        clf = FewShotClassifier(encoder=None, mode=mode)
        clf.register_many(batches)
        return clf

    def loop() -> FewShotClassifier:
        clf = FewShotClassifier(encoder=None, mode=mode)
        for label, shots in batches.items():
            clf.register(label, shots)
        return clf

    build()  # warm-up (imports, FAISS first use)
    gc.collect()
    before = rss_bytes()
    clf = build()
    gc.collect()
    rss = rss_bytes() - before
    store = faiss_bytes(clf)
    del clf
    gc.collect()
    tracemalloc.start()
    clf = build()
    gc.collect()
    traced = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del clf
    times = {"many": [], "loop": []}
    for _ in range(3):
        for name, function in (("many", build), ("loop", loop)):
            gc.collect()
            start = time.perf_counter()
            function()
            times[name].append(time.perf_counter() - start)
    many, looped = (statistics.median(times[name]) for name in ("many", "loop"))
    return {
        "mode": mode,
        "classes": classes,
        "shots": SHOTS,
        "dim": dim,
        "raw_bytes": raw,
        "many_s": many,
        "loop_s": looped,
        "us_per_class": many / classes * 1e6,
        "rss_x": rss / raw,
        "traced_x": traced / raw,
        "faiss_x": store / raw,
        "total_x": (traced + store) / raw,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--child", nargs=3, metavar=("CLASSES", "DIM", "MODE"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(int(args.child[0]), int(args.child[1]), args.child[2])))
        return
    sizes = [1_000, 3_000, 10_000] + ([] if args.quick else [30_000])
    configs = [("prototype", c, 384) for c in sizes]
    if not args.quick:
        configs += [("prototype", 10_000, 1280), ("knn", 10_000, 384)]
    load_before = load_average()
    rows = []
    for mode, classes, dim in configs:
        command = [sys.executable, __file__, "--child", str(classes), str(dim), mode]
        out = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print_table(rows[-1:], COLUMNS)
    print()
    print_table(rows, COLUMNS)
    payload = {"command": " ".join(sys.argv), "load_average_at_start": load_before, "rows": rows}
    print("wrote", write_json("register_scaling", payload))


if __name__ == "__main__":
    main()
