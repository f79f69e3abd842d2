"""Which thread settings make torch and FAISS in one process fastest, idle and under contention?

For each OpenMP wait policy (the OpenMP runtime's own default, and ``OMP_WAIT_POLICY=PASSIVE``,
fewshot's default; either must be set before torch loads, so each runs in a fresh child) the child times, interleaved,
a FAISS flat search (N×128, a batch of queries) and a MiniLM encoding pass with 1 and with 2
threads (``fewshot.set_num_threads``: torch first, so both share one pool). The parent runs
each child once on the machine as it is and once beside a one-core busy loop it spawns.

    python benchmarks/threads.py --quick   # 50k stored, 250 queries, 64 sentences
    python benchmarks/threads.py           # 100k stored, 1000 queries, 256 sentences
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import competing_load, load_average, print_table, write_json

ROOT = Path(__file__).resolve().parent.parent
POLICIES = {"default": None, "passive": "PASSIVE"}
COLUMNS = ["load", "wait_policy", "task", "1_thread_ms", "2_threads_ms", "2_over_1"]


def child(stored: int, queries: int, sentences: int, repeats: int) -> None:
    """Runs in the child: prints one JSON line of median ms per (task, threads)."""
    import numpy as np
    import torch  # noqa: F401  (first, so fewshot keeps the parent's choice of wait policy)

    import fewshot
    from benchmarks.common import interleaved_medians
    from fewshot.runtime import faiss

    rng = np.random.default_rng(0)
    index = faiss.IndexFlatIP(128)
    index.add(rng.standard_normal((stored, 128), dtype=np.float32))
    batch = rng.standard_normal((queries, 128), dtype=np.float32)
    encoder = fewshot.load_encoder("minilm")
    texts = [f"sentence number {i} asks how to reset a card pin quickly" for i in range(sentences)]

    def with_threads(n: int, work):
        def run() -> None:
            fewshot.set_num_threads(n)
            work()

        return run

    tasks = {
        "search": lambda: index.search(batch, 5),
        "encode": lambda: encoder.embed(texts, progress=False),
    }
    medians = interleaved_medians(
        {f"{task}/{n}": with_threads(n, work) for task, work in tasks.items() for n in (1, 2)},
        repeats=repeats,
    )
    print(json.dumps({key: value * 1e3 for key, value in medians.items()}))


def run_child(policy: str | None, args: argparse.Namespace) -> dict[str, float]:
    env = dict(os.environ)
    env.pop("OMP_WAIT_POLICY", None)
    if policy is not None:
        env["OMP_WAIT_POLICY"] = policy
    command = [sys.executable, __file__, "--child", "--stored", str(args.stored)]
    command += ["--queries", str(args.queries), "--sentences", str(args.sentences)]
    command += ["--repeats", str(args.repeats)]
    out = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--stored", type=int)
    parser.add_argument("--queries", type=int)
    parser.add_argument("--sentences", type=int)
    parser.add_argument("--repeats", type=int)
    args = parser.parse_args()
    args.stored = args.stored or (50_000 if args.quick else 100_000)
    args.queries = args.queries or (250 if args.quick else 1000)
    args.sentences = args.sentences or (64 if args.quick else 256)
    args.repeats = args.repeats or (3 if args.quick else 5)
    if args.child:
        child(args.stored, args.queries, args.sentences, args.repeats)
        return
    rows = []
    for load in ("as_is", "one_core_busy"):
        for policy_name, policy in POLICIES.items():
            load_before = load_average()
            if load == "as_is":
                medians = run_child(policy, args)
            else:
                with competing_load():
                    medians = run_child(policy, args)
            for task in ("search", "encode"):
                one, two = medians[f"{task}/1"], medians[f"{task}/2"]
                rows.append(
                    {
                        "load": load,
                        "wait_policy": policy_name,
                        "task": task,
                        "1_thread_ms": one,
                        "2_threads_ms": two,
                        "2_over_1": two / one,
                        "load_average_before": load_before,
                    }
                )
            print_table(rows[-2:], COLUMNS)
    print()
    print_table(rows, COLUMNS)
    settings = {"stored": args.stored, "dim": 128, "queries": args.queries, "k": 5}
    settings |= {"sentences": args.sentences, "repeats": args.repeats}
    payload = {"command": " ".join(sys.argv), "settings": settings, "rows": rows}
    print("wrote", write_json("threads", payload))


if __name__ == "__main__":
    main()
