"""How well do frozen all-MiniLM-L6-v2 embeddings classify intents from the fixed 5 and 10 shots?

For BANKING77 and CLINC150 (all intents, full test sets, in-scope only for CLINC150), registers
the fixed subsets in a ``FewShotClassifier`` and reports accuracy of nearest-prototype and kNN
modes, end to end (encoding included), beside the cross-check numbers measured before this script existed. Then CLINC150
out-of-scope rejection: the threshold is chosen on validation data only (in-scope val + OOS val)
with ``calibrate_threshold``, and in-scope accuracy, OOS recall and precision are measured on test.

    python benchmarks/text_prototypes.py               # tables on stdout, JSON in benchmarks/results
    python benchmarks/text_prototypes.py --methods prototype --threads 1
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # MiniLM's weights ship in a package; no hub
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import fewshot
from benchmarks.common import print_table, write_json
from fewshot.data import IntentDataset, load_banking77, load_clinc150

METHODS = {  # name -> FewShotClassifier keyword arguments
    "prototype": {"mode": "prototype"},
    "knn-1": {"mode": "knn", "n_neighbors": 1},
    "knn-5": {"mode": "knn", "n_neighbors": 5},
}
# An earlier independent measurement: frozen MiniLM, cosine nearest prototype, the same fixed subsets and test sets.
CROSS_CHECK = {
    ("clinc150", 5): 85.93,
    ("clinc150", 10): 87.47,
    ("banking77", 5): 78.38,
    ("banking77", 10): 81.53,
}
# Threshold rules handed to calibrate_threshold: None maximises balanced accept/reject accuracy.
OOS_RULES = {"balanced": None, "accept-95%-in-scope": 0.95}


@dataclass(frozen=True)
class AccuracyRow:
    dataset: str
    shots: int
    method: str
    accuracy: float  # percent of the full (in-scope) test set
    correct: int
    total: int
    seconds: float  # register + predict, encoding included
    cross_check: float | None


@dataclass(frozen=True)
class RejectionRow:
    shots: int
    rule: str
    threshold: float
    val_in_scope_acceptance: float  # percent, on the calibration data
    val_oos_rejection: float
    in_scope_accuracy: float  # percent of in-scope test queries labelled correctly (not rejected)
    oos_recall: float  # percent of OOS test queries rejected
    oos_precision: float | None  # percent of rejected test queries that are OOS (None: none)
    seconds: float


def accuracy(encoder: fewshot.Encoder, ds: IntentDataset, shots: int, method: str) -> AccuracyRow:
    """Register the fixed ``shots``-shot subset with ``method`` and score the full test set."""
    start = time.perf_counter()
    clf = fewshot.FewShotClassifier(encoder, **METHODS[method])
    clf.register_many(ds.few_shot[shots].by_label())
    predicted = clf.predict(list(ds.test.texts))
    seconds = time.perf_counter() - start
    correct = sum(p == t for p, t in zip(predicted, ds.test.labels, strict=True))
    return AccuracyRow(
        ds.name,
        shots,
        method,
        100 * correct / len(ds.test),
        correct,
        len(ds.test),
        seconds,
        CROSS_CHECK.get((ds.name, shots)) if method == "prototype" else None,
    )


def rejection(
    encoder: fewshot.Encoder, clinc: IntentDataset, shots: int, rule: str
) -> RejectionRow:
    """Prototype classifier on CLINC150's fixed subset; threshold from val, metrics on test."""
    assert clinc.val is not None
    start = time.perf_counter()
    clf = fewshot.FewShotClassifier(encoder, mode="prototype")
    clf.register_many(clinc.few_shot[shots].by_label())
    choice = clf.calibrate_threshold(
        list(clinc.val.texts),
        list(clinc.out_of_scope["val"].texts),
        in_scope_acceptance=OOS_RULES[rule],
    )
    in_scope = clf.predict(list(clinc.test.texts))
    oos = clf.predict(list(clinc.out_of_scope["test"].texts))
    seconds = time.perf_counter() - start
    correct = sum(p == t for p, t in zip(in_scope, clinc.test.labels, strict=True))
    oos_rejected = sum(p is None for p in oos)
    rejected = oos_rejected + sum(p is None for p in in_scope)
    return RejectionRow(
        shots=shots,
        rule=rule,
        threshold=choice.threshold,
        val_in_scope_acceptance=100 * choice.in_scope_acceptance,
        val_oos_rejection=100 * (choice.out_of_scope_rejection or 0.0),
        in_scope_accuracy=100 * correct / len(in_scope),
        oos_recall=100 * oos_rejected / len(oos),
        oos_precision=100 * oos_rejected / rejected if rejected else None,
        seconds=seconds,
    )


ACCURACY_COLUMNS = [
    "dataset",
    "shots",
    "method",
    "accuracy",
    "correct",
    "total",
    "seconds",
    "cross_check",
]
REJECTION_COLUMNS = [
    "shots",
    "rule",
    "threshold",
    "val_in_scope_acceptance",
    "val_oos_rejection",
    "in_scope_accuracy",
    "oos_recall",
    "oos_precision",
    "seconds",
]


def _shown(row: AccuracyRow | RejectionRow) -> dict[str, object]:
    """A row for the printed table: floats rounded to 2 places, missing values as '-'."""
    return {
        key: "-"
        if value is None
        else round(value, 4 if key == "threshold" else 2)
        if isinstance(value, float)
        else value
        for key, value in asdict(row).items()
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data",
        help="data root holding clinc150/ and banking77/ "
        "(default: $FEWSHOT_DATA, else ../shared/data)",
    )
    parser.add_argument(
        "--methods",
        nargs="+",
        choices=list(METHODS),
        default=list(METHODS),
        help="classifier modes to score (default: all)",
    )
    parser.add_argument("--shots", nargs="+", type=int, choices=[5, 10], default=[5, 10])
    parser.add_argument("--no-oos", action="store_true", help="skip the CLINC150 OOS section")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch and FAISS threads (default: all CPUs available)",
    )
    args = parser.parse_args(argv)

    threads = fewshot.set_num_threads(args.threads)
    datasets = [load_banking77(args.data), load_clinc150(args.data)]
    encoder = fewshot.load_encoder("minilm")
    rows = [
        accuracy(encoder, ds, k, m) for ds in datasets for k in args.shots for m in args.methods
    ]
    clinc = datasets[1]
    oos_rows = (
        []
        if args.no_oos
        else [rejection(encoder, clinc, k, r) for k in args.shots for r in OOS_RULES]
    )
    print_table([_shown(r) for r in rows], ACCURACY_COLUMNS)
    if oos_rows:
        print("\nCLINC150 out-of-scope: prototype, threshold from val only, metrics on test (%)")
        print_table([_shown(r) for r in oos_rows], REJECTION_COLUMNS)
    path = write_json(
        "text_prototypes",
        {
            "command": " ".join(["python benchmarks/text_prototypes.py", *(argv or sys.argv[1:])]),
            "encoder": encoder.spec,
            "threads": threads,
            "protocol": "fixed K-shot subsets (jianguoz/Few-Shot-Intent-Detection), all intents, "
            "full test sets (CLINC150 in-scope 4,500; BANKING77 3,080); accuracy and "
            "rates in percent; seconds = register + predict with encoding; OOS threshold "
            "chosen on CLINC150 val (3,000 in-scope + 100 OOS) only",
            "accuracy": [asdict(r) for r in rows],
            "out_of_scope": [asdict(r) for r in oos_rows],
        },
    )
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
