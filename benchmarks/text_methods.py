"""How far does each few-shot method get on BANKING77 and CLINC150 with MiniLM on this CPU?

Methods, all through ``FewShotClassifier``: frozen prototypes (the baseline), kNN (1 and 5
neighbours), a projection head trained episodically on the registered shots
(``finetune(part="head")``), ``finetune()`` (MiniLM's blocks, defaults) and ``finetune-2``
(the last 2 blocks, 2 epochs, lr 2e-4: the validation sweep's cheaper runner-up). For each
dataset and K ∈ {5, 10}: draw 0 is the fixed K-shot subset (DNNC/CPFT), draws 1… are seeded
random draws from the full training split (``IntentDataset.k_shot(k, seed=draw)``); accuracy on
the full in-scope test set, mean ± std over the draws, beside the published anchors. Then
CLINC150 out-of-scope rejection on the fixed subsets: threshold chosen on validation data only
(in-scope val + OOS val, balanced accuracy), in-scope accuracy and OOS recall/precision on test.

Frozen methods embed the test set once per dataset and each draw's shots once; their time per
run adds both encodings, so it is what one end-to-end run would cost.

    python benchmarks/text_methods.py --quick     # 3 draws frozen/head, 1 draw finetune
    python benchmarks/text_methods.py             # 5 draws everywhere (hours on 2 busy cores)

Each run rewrites its JSON after every result (``"partial": true`` until it ends). On two
cores, one process per dataset with one thread each, then ``--combine``, is faster:

    python benchmarks/text_methods.py --datasets banking77 --threads 1 --name text_methods_b77
    python benchmarks/text_methods.py --datasets clinc150 --threads 1 --name text_methods_clinc
    python benchmarks/text_methods.py --combine benchmarks/results/text_methods_b77.json \
        benchmarks/results/text_methods_clinc.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # MiniLM's weights ship in a package; no hub
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

import fewshot
from benchmarks.common import print_table, write_json
from fewshot.data import IntentDataset, load_banking77, load_clinc150
from fewshot.data.text import TextSplit

FROZEN = {  # name -> FewShotClassifier keyword arguments, on frozen embeddings
    "prototype": {"mode": "prototype"},
    "knn-1": {"mode": "knn", "n_neighbors": 1},
    "knn-5": {"mode": "knn", "n_neighbors": 5},
}
# finetune() with its defaults (all 6 blocks, 3 epochs, lr 1e-4), and the cheaper runner-up of
# the validation sweep (the last 2 blocks, 2 epochs, lr 2e-4: about half the CPU time)
FINETUNES = {"finetune": {}, "finetune-2": {"layers": 2, "epochs": 2, "lr": 2e-4}}
METHODS = [*FROZEN, "head", *FINETUNES]
# Published numbers (percent accuracy, all intents, full test sets; sources beside each).
ANCHORS = {
    ("banking77", 5): "CPFT 80.86",
    ("banking77", 10): "CPFT 87.20; ICDA 89.79; USE+ConveRT 85.19",
    ("clinc150", 5): "CPFT 92.34",
    ("clinc150", 10): "CPFT 94.18; ICDA 94.84; USE+ConveRT 93.26",
}
# CLINC150 OOS rows: the baseline at both K, fine-tuning at K = 10 (val + OOS re-encoding is slow).
OOS_CELLS = {("prototype", 5), ("prototype", 10), ("finetune", 10)}
TARGETS = {("banking77", 10): 87.20, ("clinc150", 10): 94.18}
CROSS_CHECK = {  # frozen MiniLM prototypes on the fixed subsets, measured by benchmarks/text_prototypes.py
    ("clinc150", 5): 85.93,
    ("clinc150", 10): 87.47,
    ("banking77", 5): 78.38,
    ("banking77", 10): 81.53,
}


@dataclass(frozen=True)
class Run:
    method: str
    dataset: str
    shots: int
    draw: int  # 0 = fixed subset, else the seed of a random draw
    accuracy: float  # percent of the in-scope test set
    cpu_minutes: float  # process CPU time (all threads), test-set encoding included
    wall_minutes: float


@dataclass(frozen=True)
class Rejection:
    method: str
    shots: int
    threshold: float
    in_scope_accuracy: float  # percent of in-scope test queries labelled correctly, not rejected
    oos_recall: float  # percent of OOS test queries rejected
    oos_precision: float | None  # percent of rejected test queries that are OOS
    val_in_scope_acceptance: float
    val_oos_rejection: float


def draw(ds: IntentDataset, k: int, index: int) -> TextSplit:
    """Draw 0: the fixed K-shot subset; draw i > 0: the seeded random draw with seed i."""
    return ds.few_shot[k] if index == 0 else ds.k_shot(k, seed=index)


class Timer:
    """CPU and wall time of a block, in minutes."""

    def __enter__(self) -> Timer:
        self.cpu, self.wall = time.process_time(), time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cpu = (time.process_time() - self.cpu) / 60
        self.wall = (time.perf_counter() - self.wall) / 60


def percent_correct(predicted: list[Any], truth: tuple[str, ...]) -> float:
    return 100 * float(np.mean([p == t for p, t in zip(predicted, truth, strict=True)]))


def rejection(
    method: str,
    clf: fewshot.FewShotClassifier,
    k: int,
    test: fewshot.QueryResult,
    embed: Any,
    clinc: IntentDataset,
) -> Rejection:
    """Threshold from CLINC150 val (in-scope + OOS) only; rates on the test splits.

    ``test`` is the run's (unthresholded) answer on the in-scope test set, reused here.
    """
    assert clinc.val is not None
    choice = clf.calibrate_threshold(embed(clinc.val.texts), embed(clinc.out_of_scope["val"].texts))
    in_scope = [
        None if score < choice.threshold else label
        for label, score in zip(test.labels[:, 0], test.scores[:, 0], strict=True)
    ]
    oos = clf.predict(embed(clinc.out_of_scope["test"].texts))
    oos_rejected = sum(p is None for p in oos)
    rejected = oos_rejected + sum(p is None for p in in_scope)
    return Rejection(
        method=method,
        shots=k,
        threshold=round(choice.threshold, 4),
        in_scope_accuracy=percent_correct(in_scope, clinc.test.labels),
        oos_recall=100 * oos_rejected / len(oos),
        oos_precision=100 * oos_rejected / rejected if rejected else None,
        val_in_scope_acceptance=100 * choice.in_scope_acceptance,
        val_oos_rejection=100 * (choice.out_of_scope_rejection or 0.0),
    )


def run_dataset(
    ds: IntentDataset,
    encoder: fewshot.Encoder,
    methods: list[str],
    shots: list[int],
    draws: int,
    finetune_draws: int,
    rejections: list[Rejection],
    runs: list[Run],
    on_result: Any = lambda: None,
) -> None:
    """Every method × K × draw on one dataset, appended to ``runs``; CLINC150's OOS rows on
    draw 0. ``on_result()`` is called after each run, so a long sweep saves as it goes."""
    with Timer() as encoding:
        test = encoder.embed(ds.test.texts)
    cache: dict[str, np.ndarray] = {}

    def frozen(texts: tuple[str, ...]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in cache]
        if missing:
            cache.update(zip(missing, encoder.embed(missing)))
        return np.stack([cache[t] for t in texts])

    shot_cost: dict[tuple[int, int], Timer] = {}  # (K, draw) → encoding time of its shots
    for k in shots:
        for method in methods:
            for index in range(finetune_draws if method in FINETUNES else draws):
                split = draw(ds, k, index)
                if method not in FINETUNES and (k, index) not in shot_cost:
                    with Timer() as shot_cost[(k, index)]:
                        frozen(split.texts)
                with Timer() as timer:
                    if method in FINETUNES:
                        clf = fewshot.FewShotClassifier(encoder)
                        clf.register_many(split.by_label())
                        clf.finetune(seed=index, **FINETUNES[method])
                        answer = clf.query(list(ds.test.texts))
                    else:
                        clf = fewshot.FewShotClassifier(None, **FROZEN.get(method, {}))
                        features = frozen(split.texts)
                        by_label: dict[str, list[np.ndarray]] = {}
                        for row, label in zip(features, split.labels, strict=True):
                            by_label.setdefault(label, []).append(row)
                        clf.register_many({label: np.stack(v) for label, v in by_label.items()})
                        if method == "head":
                            clf.finetune(part="head", seed=index, progress=False)
                        answer = clf.query(test)
                cost = None if method in FINETUNES else shot_cost[(k, index)]
                extra = 0.0 if cost is None else encoding.cpu + cost.cpu
                extra_wall = 0.0 if cost is None else encoding.wall + cost.wall
                runs.append(
                    Run(
                        method,
                        ds.name,
                        k,
                        index,
                        percent_correct(list(answer.labels[:, 0]), ds.test.labels),
                        timer.cpu + extra,
                        timer.wall + extra_wall,
                    )
                )
                print(f"  {runs[-1]}", flush=True)
                on_result()
                if ds.name == "clinc150" and index == 0 and (method, k) in OOS_CELLS:

                    def embed(texts: tuple[str, ...], method: str = method) -> Any:
                        return list(texts) if method in FINETUNES else frozen(texts)

                    rejections.append(rejection(method, clf, k, answer, embed, ds))
                    print(f"  {rejections[-1]}", flush=True)
                    on_result()


def summarise(runs: list[Run]) -> list[dict[str, Any]]:
    """One row per method × dataset × K: mean ± std over its draws, beside the anchors."""
    rows = []
    keys = list(dict.fromkeys((r.dataset, r.shots, r.method) for r in runs))
    for dataset, k, method in keys:
        group = [r for r in runs if (r.dataset, r.shots, r.method) == (dataset, k, method)]
        accs = [r.accuracy for r in group]
        fixed = next((r.accuracy for r in group if r.draw == 0), None)
        rows.append(
            {
                "dataset": dataset,
                "K": k,
                "method": method,
                "draws": len(group),
                "accuracy": f"{statistics.mean(accs):.2f} ± {statistics.stdev(accs):.2f}"
                if len(accs) > 1
                else f"{accs[0]:.2f} (1 draw)",
                "mean": statistics.mean(accs),
                "std": statistics.stdev(accs) if len(accs) > 1 else None,
                "fixed_subset": fixed,
                "cpu_min_per_run": round(statistics.mean(r.cpu_minutes for r in group), 2),
                "wall_min_per_run": round(statistics.mean(r.wall_minutes for r in group), 2),
                "published": ANCHORS[(dataset, k)],
                "gap_to_target": None
                if (dataset, k) not in TARGETS
                else round(statistics.mean(accs) - TARGETS[(dataset, k)], 2),
            }
        )
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="data root holding clinc150/ and banking77/")
    parser.add_argument(
        "--encoder",
        default="minilm",
        help="encoder to start every method from: a name or a checkpoint folder, such as a "
        "`fewshot train` run's best/ trained on the other dataset (default: minilm)",
    )
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=METHODS)
    parser.add_argument(
        "--datasets",
        nargs="+",
        choices=["banking77", "clinc150"],
        default=["banking77", "clinc150"],
    )
    parser.add_argument("--shots", nargs="+", type=int, choices=[5, 10], default=[5, 10])
    parser.add_argument("--draws", type=int, default=None, help="draws per frozen/head method")
    parser.add_argument("--finetune-draws", type=int, default=None, help="draws for finetune")
    parser.add_argument(
        "--quick", action="store_true", help="3 draws for frozen/head, 1 (fixed subset) finetune"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch and FAISS threads")
    parser.add_argument("--name", help="results JSON name (default text_methods[_quick])")
    parser.add_argument(
        "--combine",
        nargs="+",
        metavar="JSON",
        help="print one table from result files of separate runs (e.g. one per dataset)",
    )
    args = parser.parse_args(argv)
    draws = args.draws or (3 if args.quick else 5)
    finetune_draws = args.finetune_draws or (1 if args.quick else draws)

    command = " ".join(["python benchmarks/text_methods.py", *(argv or sys.argv[1:])])
    name = args.name or ("text_methods_quick" if args.quick else "text_methods")
    if args.combine:
        runs, rejections, commands = combine([Path(path) for path in args.combine])
        report(runs, rejections, name, command, {"combined": commands, "threads": None})
        return

    threads = fewshot.set_num_threads(args.threads)
    encoder = fewshot.load_encoder(args.encoder)
    loaders = {"banking77": load_banking77, "clinc150": load_clinc150}
    runs: list[Run] = []
    rejections: list[Rejection] = []
    extra = {"encoder": encoder.spec, "threads": threads}

    def save_partial() -> None:
        save(runs, rejections, name, command, {**extra, "partial": True})

    for dataset in args.datasets:
        print(f"{dataset}:", flush=True)
        run_dataset(
            loaders[dataset](args.data),
            encoder,
            args.methods,
            args.shots,
            draws,
            finetune_draws,
            rejections,
            runs,
            save_partial,
        )
    report(runs, rejections, name, command, extra)


def combine(paths: list[Path]) -> tuple[list[Run], list[Rejection], list[str]]:
    """Runs, OOS rows and commands of several result files, each run once, in table order.

    A draw that two files both ran (e.g. an OOS-only run repeating draw 0) counts once; the
    runs are seeded, so their accuracies must agree, and a disagreement is an error.
    """
    by_key: dict[tuple[str, str, int, int], Run] = {}
    rejections: list[Rejection] = []
    commands: list[str] = []
    for path in paths:
        part = json.loads(path.read_text())
        if part.get("partial"):
            raise SystemExit(f"{path} is a partial run; finish it before combining")
        for row in part["runs"]:
            run = Run(**row)
            key = (run.dataset, run.method, run.shots, run.draw)
            seen = by_key.setdefault(key, run)
            if abs(seen.accuracy - run.accuracy) > 1e-9:
                raise SystemExit(f"{path}: {key} scored {run.accuracy}, elsewhere {seen.accuracy}")
        rejections += [Rejection(**row) for row in part["out_of_scope"]]
        commands.append(part["command"])
    datasets = ["banking77", "clinc150"]
    runs = sorted(
        by_key.values(),
        key=lambda r: (datasets.index(r.dataset), r.shots, METHODS.index(r.method), r.draw),
    )
    rejections.sort(key=lambda r: (METHODS.index(r.method), r.shots))
    return runs, rejections, commands


def save(
    runs: list[Run],
    rejections: list[Rejection],
    name: str,
    command: str,
    extra: dict[str, Any],
) -> Path:
    """benchmarks/results/<name>.json: the summary, every run and the OOS rows."""
    return write_json(
        name,
        {
            "command": command,
            **extra,
            "finetune_defaults": __import__("fewshot.adapt").adapt.DEFAULTS,
            "protocol": "draw 0 = fixed K-shot subset, draw i = IntentDataset.k_shot(K, seed=i); "
            "all intents; full in-scope test sets (BANKING77 3,080, CLINC150 4,500); "
            "finetune(seed=draw), head seed=draw; OOS threshold from CLINC150 val only",
            "summary": summarise(runs) if runs else [],
            "runs": [asdict(r) for r in runs],
            "out_of_scope": [asdict(r) for r in rejections],
        },
    )


def report(
    runs: list[Run],
    rejections: list[Rejection],
    name: str,
    command: str,
    extra: dict[str, Any],
) -> None:
    """Print the one table (and the OOS rows) and write the final JSON."""
    rows = summarise(runs)
    columns = ["dataset", "K", "method", "draws", "accuracy", "fixed_subset"]
    columns += ["cpu_min_per_run", "wall_min_per_run", "published", "gap_to_target"]
    print()
    print_table([{c: "-" if r[c] is None else r[c] for c in columns} for r in rows], columns)
    if rejections:
        print("\nCLINC150 out-of-scope, fixed subsets: threshold from val only, rates on test (%)")
        shown = [
            {
                k: "-" if v is None else round(v, 2) if isinstance(v, float) else v
                for k, v in asdict(r).items()
            }
            for r in rejections
        ]
        print_table(shown, list(asdict(rejections[0])))
    path = save(runs, rejections, name, command, extra)
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
