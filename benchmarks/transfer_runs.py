"""How much of a pre-trained network to fine-tune: train runs (``fewshot train``) and their scores
(``fewshot evaluate``, ``benchmarks/text_methods.py``), accuracy against CPU minutes.

Each plan is a list of training rows (``train`` flags over the plan's common ones) and the
evaluations the rows get. Runs live in ``--runs`` (default ``runs/<plan>``); a row whose run
finished is not trained again and an evaluation already in the JSON is not run again, so an
interrupted sweep continues where it stopped (``--max-minutes`` bounds each training run).

    python benchmarks/transfer_runs.py omniglot-efficientnet   # ImageNet → Omniglot, 20-way 1-shot
    python benchmarks/transfer_runs.py intents-minilm          # CLINC150 ↔ BANKING77, 10-shot
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.common import RESULTS, load_average, machine, write_json

# fmt: off
OMNIGLOT_TRAIN = ["--data", "omniglot", "--init", "efficientnet-lite0", "--image-size", "84",
                  "--ways", "20", "--shots", "1", "--queries", "5", "--val-alphabets", "5",
                  "--val-ways", "20", "--val-shots", "1", "--val-episodes", "100", "--seed", "0"]
OMNIGLOT_EVAL = ["--ways", "20", "--shots", "1", "--queries", "1", "--seed", "0"]
RANDOM_DRAWERS = ["evaluate", *OMNIGLOT_EVAL, "--within-alphabet", "--episodes", "400"]
LAKE_RUNS = ["evaluate", *OMNIGLOT_EVAL, "--protocol", "lake", "--runs", "400"]
INTENT_BUDGET = ["--train-blocks", "2", "--episodes", "1500"]  # one budget: --max-minutes
INTENT_TRAIN = ["--init", "minilm", "--ways", "20", "--shots", "5", "--queries", "5",
                "--holdout-fraction", "0.2", "--val-ways", "20", "--val-shots", "5",
                "--val-episodes", "50", "--seed", "0"]

# A row is a list of train flags, or {"train": flags, "evaluate": flags added to every
# `fewshot evaluate`, "only": the evaluations it gets}. An evaluation is a command (`evaluate`
# flags, or `text_methods` flags) or {"spec": command, "rows": the rows that get it}.
PLANS: dict[str, dict[str, Any]] = {
    "omniglot-efficientnet": {
        "train": OMNIGLOT_TRAIN,
        "rows": {
            "head only, euclidean": ["--train-blocks", "0", "--episodes", "600",
                                     "--metric", "euclidean"],
            "last 2 blocks, euclidean, lr 1e-3": ["--train-blocks", "2", "--episodes", "600",
                                                  "--metric", "euclidean", "--lr", "1e-3"],
            "last 5 blocks, euclidean, lr 1e-3": ["--train-blocks", "5", "--episodes", "600",
                                                  "--metric", "euclidean", "--lr", "1e-3"],
            "last 2 blocks": ["--train-blocks", "2", "--episodes", "600"],
            "all blocks": ["--train-blocks", "all", "--episodes", "600"],
        },
        "frozen": "efficientnet-lite0",
        "frozen_image_size": 84,
        "evaluations": {
            "random drawers": [*RANDOM_DRAWERS, "--image-size", "84"],
            "Lake drawer pairs": [*LAKE_RUNS, "--image-size", "84"],
        },
    },
    "omniglot-heads": {
        "train": ["--data", "omniglot", "--ways", "20", "--shots", "1", "--queries", "5",
                  "--val-alphabets", "5", "--val-ways", "20", "--val-shots", "1",
                  "--val-episodes", "200", "--episodes", "3000", "--lr-step", "1000",
                  "--seed", "0"],
        "rows": {
            "Conv-4, prototypical": ["--head", "prototypical"],
            "Conv-4, siamese": {"train": ["--head", "siamese"], "evaluate": ["--head", "siamese"]},
        },
        "frozen": None,
        "evaluations": {"random drawers": RANDOM_DRAWERS, "Lake drawer pairs": LAKE_RUNS},
    },
    "intents-minilm": {
        "train": INTENT_TRAIN,
        "rows": {
            "CLINC150 → last 2 layers": ["--data", "clinc150:train", *INTENT_BUDGET],
            "BANKING77 → last 2 layers": ["--data", "banking77:train", *INTENT_BUDGET],
            "both (multi-task) → last 2 layers": ["--data", "clinc150:train", "--data",
                                                  "banking77:train", *INTENT_BUDGET],
            "CLINC150 + DANN on BANKING77 texts → last 2 layers": {
                "train": ["--data", "clinc150:train", "--target-data", "banking77:train",
                          *INTENT_BUDGET],
                "only": ["BANKING77 10-shot"],
            },
        },
        "frozen": "minilm",
        # held-out utterances of the trained intents start at 97.5% (CLINC150): validation
        # cannot see what transfer to another dataset gains, so RUN/last is scored
        "checkpoint": "last",
        "evaluations": {
            "BANKING77 10-shot": ["text_methods", "--datasets", "banking77"],
            "CLINC150 10-shot": ["text_methods", "--datasets", "clinc150"],
            # finetune() costs 3-6 CPU minutes a draw: only across datasets, the target's
            # question (the frozen start's finetune() rows are in text_methods.json)
            "BANKING77 10-shot, finetune()": {
                "spec": ["text_methods", "--datasets", "banking77", "--methods", "finetune"],
                "rows": ["CLINC150 → last 2 layers"],
            },
            "CLINC150 10-shot, finetune()": {
                "spec": ["text_methods", "--datasets", "clinc150", "--methods", "finetune"],
                "rows": ["BANKING77 → last 2 layers"],
            },
        },
    },
}
# fmt: on


def slug(label: str) -> str:
    """A folder name for a row or evaluation label: "CLINC150 → last 2 layers" → clinc150-last-2-layers."""
    return "-".join("".join(c if c.isalnum() else " " for c in label.lower()).split())


def run(command: list[str], log: Path) -> None:
    """Run ``command``; its output goes to ``log``; a failure stops the sweep naming the log."""
    with log.open("a") as out:
        out.write("$ " + " ".join(command) + "\n")
        out.flush()
        if subprocess.run(command, stdout=out, stderr=subprocess.STDOUT).returncode:
            sys.exit(f"failed: {' '.join(command)} (see {log})")


def evaluate(encoder: str, spec: list[str], folder: Path, log: Path, args: Any) -> dict[str, Any]:
    """Score ``encoder`` with one evaluation spec; the report's accuracy and its command."""
    folder.mkdir(parents=True, exist_ok=True)
    if spec[0] == "text_methods":
        name = "transfer_" + "_".join(folder.parts[-3:])  # moved into folder when read
        command = [sys.executable, "benchmarks/text_methods.py", "--encoder", encoder,
                   "--methods", *args.text_methods, "--shots", "10", "--draws", "5",
                   "--finetune-draws", str(args.finetune_draws), "--name", name, *spec[1:]]  # fmt: skip
        run(command, log)
        written = RESULTS / f"{name}.json"
        report = json.loads(written.read_text())
        written.replace(folder / "text_methods.json")
        return {"command": " ".join(command), "summary": report["summary"]}
    out = folder / "report.json"
    command = [sys.executable, "-m", "episodes", *spec[:1], "--encoder", encoder, *spec[1:],
               "--out", str(out)]  # fmt: skip
    run(command, log)
    report = json.loads(out.read_text())
    return {"command": " ".join(command), "accuracy": report["accuracy"]}


def cell(result: dict[str, Any]) -> str:
    """One table cell: ``mean ± ci95`` of an episode report, or ``method mean ± std`` of each
    text_methods row (5 draws; finetune() as many as were run)."""
    if "accuracy" in result:
        return f"{100 * result['accuracy']['mean']:.2f} ± {100 * result['accuracy']['ci95']:.2f}"
    return "; ".join(
        f"{r['method']} {r['mean']:.2f}"
        + (f" ± {r['std']:.2f}" if r["std"] is not None else f" ({r['draws']} draw)")
        for r in result["summary"]
    )


def table(plan: str, rows: dict[str, Any]) -> str:
    """The plan's results as a markdown table: a row per training row, a column per evaluation,
    with the training run's CPU minutes and episodes."""
    evaluations = list(PLANS[plan]["evaluations"])
    lines = ["| row | minutes | episodes | " + " | ".join(evaluations) + " |",
             "|---" * (len(evaluations) + 3) + "|"]  # fmt: skip
    for label, row in rows.items():
        train = row.get("train", {})
        cells = [cell(row[e]) if e in row else "–" for e in evaluations]
        minutes = f"{train['cpu_minutes']:.1f}" if train else "–"
        lines.append(f"| {label} | {minutes} | {train.get('episodes_done', '–')} | "
                     + " | ".join(cells) + " |")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("plan", choices=sorted(PLANS))
    p.add_argument("--runs", type=Path, default=None, help="run folders (default runs/<plan>)")
    p.add_argument("--only", nargs="+", default=None, help="rows to run (default all + frozen)")
    p.add_argument("--max-minutes", type=float, default=None, help="per training run")
    p.add_argument("--text-methods", nargs="+", default=["prototype", "head"])
    p.add_argument("--finetune-draws", type=int, default=2)
    p.add_argument("--name", default=None, help="results JSON name (default transfer_<plan>)")
    p.add_argument("--table", action="store_true", help="print the results JSON as a table")
    args = p.parse_args()
    plan = PLANS[args.plan]
    name = args.name or "transfer_" + args.plan.replace("-", "_")
    if args.table:
        print(table(args.plan, json.loads((RESULTS / f"{name}.json").read_text())["rows"]))
        return
    runs = args.runs or Path("runs") / args.plan
    runs.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    results: dict[str, Any] = json.loads(path.read_text())["rows"] if path.exists() else {}
    log = runs / "sweep.log"
    rows = {"frozen": None, **plan["rows"]} if plan["frozen"] else dict(plan["rows"])
    for label, extra in rows.items():
        if args.only and label not in args.only:
            continue
        settings = extra if isinstance(extra, dict) else {"train": extra}
        row = results.setdefault(label, {})
        folder = runs / slug(label)
        encoder = plan["frozen"]
        if extra is not None:
            train = [sys.executable, "-m", "episodes", "train", *plan["train"], *settings["train"],
                     "--out", str(folder), "--quiet"]  # fmt: skip
            if args.max_minutes:
                train += ["--max-minutes", str(args.max_minutes)]
            summary_file = folder / "summary.json"
            if "train" not in row:
                start = time.time()
                run([*train, "--resume"], log)
                summary = json.loads(summary_file.read_text())
                row["train"] = {
                    "command": " ".join(train),
                    "cpu_minutes": round(summary.get("train_seconds", 0) / 60, 2),
                    "wall_minutes": round((time.time() - start) / 60, 2),
                    "episodes_done": summary.get("episodes_done"),
                    "best_val_accuracy": summary.get("best_val_acc"),
                    "best_episode": summary.get("best_episode"),
                }
            encoder = str(folder / plan.get("checkpoint", "best"))
        for evaluation, spec in plan["evaluations"].items():
            if isinstance(spec, dict):
                if label not in spec["rows"]:
                    continue
                spec = spec["spec"]
            if settings.get("only") and evaluation not in settings["only"]:
                continue
            if spec[0] != "text_methods":
                spec = [*spec, *settings.get("evaluate", [])]
            if evaluation not in row:
                row[evaluation] = evaluate(encoder, spec, folder / "eval" / slug(evaluation),
                                           log, args)  # fmt: skip
                write_json(name, {"plan": args.plan, "rows": results, "load": load_average()})
        write_json(name, {"plan": args.plan, "rows": results, "load": load_average(),
                          "machine": machine()})  # fmt: skip
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
