"""Intents from a handful of examples: CLINC150 or BANKING77, frozen vs fine-tuned MiniLM, and
CLINC150's out-of-scope rejection with a threshold chosen on validation data only.

Runs offline from a local data root (default: $FEWSHOT_DATA, else ../shared/data):

    python examples/intents.py                                   # CLINC150, fixed 10-shot subset
    python examples/intents.py --dataset banking77 --shots 5
    python examples/intents.py --intents 20 --seed 3             # 20 intents, a seeded draw: ~1 min
    python examples/intents.py --save intents-clf/               # keep the fine-tuned classifier
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # MiniLM's weights ship in a package; no hub

import fewshot
from fewshot.data import load_banking77, load_clinc150
from fewshot.data.text import TextSplit


def subset(split: TextSplit, keep: set[str]) -> TextSplit:
    """Only the rows whose label is in ``keep``."""
    rows = [(t, label) for t, label in zip(split.texts, split.labels) if label in keep]
    return TextSplit(tuple(t for t, _ in rows), tuple(label for _, label in rows))


def accuracy(clf: fewshot.FewShotClassifier, split: TextSplit) -> float:
    predicted = clf.predict(list(split.texts))
    return 100 * sum(p == t for p, t in zip(predicted, split.labels)) / len(split)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=["clinc150", "banking77"], default="clinc150")
    parser.add_argument("--shots", type=int, default=10, help="examples per intent (K)")
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="draw K shots at random with this seed "
        "(default: the fixed K-shot subset, K = 5 or 10)",
    )
    parser.add_argument("--intents", type=int, default=None, help="use only the first N intents")
    parser.add_argument("--data", default=None, help="data root holding clinc150/ or banking77/")
    parser.add_argument("--save", default=None, help="save the fine-tuned classifier here")
    args = parser.parse_args()

    ds = (load_clinc150 if args.dataset == "clinc150" else load_banking77)(args.data)
    shots = ds.few_shot[args.shots] if args.seed is None else ds.k_shot(args.shots, args.seed)
    test = ds.test
    if args.intents:
        keep = set(ds.intents[: args.intents])
        shots, test = subset(shots, keep), subset(test, keep)
    print(f"{ds.name}: {len(shots.label_set)} intents x {args.shots} shots, {len(test)} test")

    clf = fewshot.FewShotClassifier("minilm")
    clf.register_many(shots.by_label())
    print(f"frozen MiniLM prototypes: {accuracy(clf, test):.2f}% test accuracy")

    start = time.perf_counter()
    report = clf.finetune(seed=args.seed or 0)  # all 6 MiniLM blocks, on the shots alone
    print(
        f"finetune ({report.loss}, {report.layers} blocks, {report.epochs} epochs, "
        f"{time.perf_counter() - start:.0f} s): {accuracy(clf, test):.2f}% test accuracy"
    )

    if ds.val is not None:  # CLINC150: out-of-scope rejection, threshold from validation only
        val = subset(ds.val, set(shots.label_set))
        choice = clf.calibrate_threshold(list(val.texts), list(ds.out_of_scope["val"].texts))
        in_scope = clf.predict(list(test.texts))
        oos = clf.predict(list(ds.out_of_scope["test"].texts))
        rejected = sum(p is None for p in in_scope) + sum(p is None for p in oos)
        oos_rejected = sum(p is None for p in oos)
        correct = sum(p == t for p, t in zip(in_scope, test.labels))
        print(
            f"threshold {choice.threshold:.3f} (from val): in-scope accuracy "
            f"{100 * correct / len(test):.2f}%, OOS recall {100 * oos_rejected / len(oos):.2f}%, "
            f"OOS precision {100 * oos_rejected / max(rejected, 1):.2f}%"
        )
    if args.save:
        print(f"saved to {clf.save(args.save)}")


if __name__ == "__main__":
    main()
