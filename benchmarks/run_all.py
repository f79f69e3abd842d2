"""Run every benchmark, each in its own process, in quick mode (under 5 minutes here) or full.

python benchmarks/run_all.py --quick
python benchmarks/run_all.py            # full mode: 10⁶-vector stores, MAML; tens of minutes
python benchmarks/run_all.py --only query_vs_faiss ivf_vs_flat
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = [
    "query_vs_faiss",
    "threads",
    "register_scaling",
    "encoder_throughput",
    "ivf_vs_flat",
    "vs_learn2learn",
    "maml_vs_protonet",
    "omniglot_tables",
]
#: Accuracy runs that train a model: in full mode only (their quick mode alone takes ~3 min).
FULL_ONLY = {"maml_vs_protonet"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, few repeats")
    parser.add_argument("--only", nargs="+", choices=SCRIPTS, help="run just these")
    args = parser.parse_args()
    failed = []
    names = args.only or [s for s in SCRIPTS if not (args.quick and s in FULL_ONLY)]
    for name in names:
        command = [sys.executable, str(HERE / f"{name}.py")] + (["--quick"] if args.quick else [])
        print(f"== {name}: {' '.join(command[1:])}", flush=True)
        start = time.perf_counter()
        if subprocess.run(command, cwd=HERE.parent).returncode != 0:
            failed.append(name)
        print(f"== {name}: {time.perf_counter() - start:.0f} s\n", flush=True)
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
