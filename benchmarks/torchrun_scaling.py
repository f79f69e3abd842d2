"""Training under torchrun: one process against two, on the same episodes.

Runs ``fewshot train`` (ProtoNet, Conv-4, Omniglot background, 28 px) once as one process with
``--threads`` threads and once as ``torchrun --nproc_per_node=2`` with one thread per process,
for the same number of episodes, and reports training images/s and the validation accuracy
both reach. The one-process run averages two episodes per step (``--episodes-per-step 2``), so
both runs take the same optimiser steps on the same episodes.

    python benchmarks/torchrun_scaling.py --episodes 400 --ways 20
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.common import load_average, machine, print_table, write_json  # noqa: E402


def train(launcher: list[str], out: Path, args: argparse.Namespace, extra: list[str]) -> dict:
    command = [
        *launcher, "-m", "episodes", "train", "--out", str(out), "--image-size", "28",
        "--ways", str(args.ways), "--shots", "1", "--queries", "5",
        "--episodes", str(args.episodes), "--val-every", str(args.episodes),
        "--val-episodes", str(args.val_episodes), "--seed", str(args.seed),
        "--device", "cpu", "--quiet", *extra,
    ]  # fmt: skip
    if args.data_root:
        command += ["--data-root", args.data_root]
    start = time.perf_counter()
    subprocess.run(command, check=True, cwd=REPO)
    summary = json.loads((out / "summary.json").read_text())
    summary["wall_seconds"] = round(time.perf_counter() - start, 1)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=400, help="episodes in total")
    parser.add_argument("--ways", type=int, default=20, help="classes per training episode")
    parser.add_argument("--val-episodes", type=int, default=200, help="validation episodes")
    parser.add_argument("--threads", type=int, default=2, help="threads of the one process")
    parser.add_argument("--seed", type=int, default=0, help="episode and initialisation seed")
    parser.add_argument("--data-root", default=None, help="Omniglot folder (default: data root)")
    args = parser.parse_args()
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent))
    launcher = [torchrun] if torchrun else [sys.executable, "-m", "torch.distributed.run"]
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        runs = {
            f"1 process × {args.threads} threads": (
                [sys.executable],
                ["--threads", str(args.threads), "--episodes-per-step", "2"],
            ),
            "torchrun, 2 processes × 1 thread": (
                [*launcher, "--standalone", "--nproc_per_node=2"],
                ["--threads", "1"],
            ),
        }
        for name, (command, extra) in runs.items():
            summary = train(
                command, Path(scratch) / name.split(",")[0].replace(" ", "-"), args, extra
            )
            rows.append(
                {
                    "run": name,
                    "world_size": summary["world_size"],
                    "episodes": summary["episodes_done"],
                    "train_seconds": summary["train_seconds"],
                    "images_per_second": summary["images_per_second"],
                    "val_acc": round(100 * summary["history"][-1]["val_acc"], 2),
                    "wall_seconds": summary["wall_seconds"],
                }
            )
    print_table(rows, list(rows[0]))
    write_json(
        "torchrun_scaling",
        {"args": vars(args), "machine": machine(), "load_average": load_average(), "rows": rows},
    )


if __name__ == "__main__":
    main()
