"""Which finetune() settings should be the default? Scored on validation data only, never test.

Each configuration fine-tunes MiniLM on the fixed 10-shot subsets of BANKING77 (all 77 intents)
and of CLINC150 (every third intent, 50, to fit the CPU; ``--tasks clinc150`` for all 150) and
scores nearest-prototype accuracy on held-out validation data: for CLINC150 its official val
split (``--val-per-intent`` per intent, seeded), for BANKING77 (which has no val split) as many
per intent drawn (seed 0) from train minus the shots. ``--seeds`` repeats each configuration
with several finetune() seeds.

    python benchmarks/text_finetune_select.py
    python benchmarks/text_finetune_select.py --configs cosine-softmax:2:2:2e-4 \
        cosine-softmax:6:3:1e-4 --seeds 0 1 --val-per-intent 20 --name text_finetune_select_confirm
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import fewshot
from benchmarks.common import print_table, write_json
from fewshot.data import IntentDataset, load_banking77, load_clinc150
from fewshot.data.text import TextSplit

DEFAULT_CONFIGS = [  # loss:layers:epochs:lr
    "cosine-softmax:2:2:5e-5",
    "cosine-softmax:2:2:2e-4",
    "supcon:2:2:2e-4",
    "pairs:2:1:1e-4",
]


def held_out(ds: IntentDataset, shots: TextSplit, per_label: int, seed: int) -> TextSplit:
    """``per_label`` examples per intent from ``ds.val`` if any, else from train minus the shots."""
    source = ds.val if ds.val is not None else ds.train
    used = set(shots.texts)
    rng = random.Random(seed)
    texts, labels = [], []
    for label, rows in source.by_label().items():
        if label not in set(shots.labels):
            continue
        pool = [text for text in rows if text not in used]
        for text in rng.sample(pool, min(per_label, len(pool))):
            texts.append(text)
            labels.append(label)
    return TextSplit(tuple(texts), tuple(labels))


def tasks(root: str | None, per_label: int = 10) -> dict[str, tuple[TextSplit, TextSplit]]:
    """name → (10-shot training subset, validation split of ``per_label`` per intent)."""
    banking, clinc = load_banking77(root), load_clinc150(root)
    keep = set(clinc.intents[::3])
    rows = [
        (t, y) for t, y in zip(*(clinc.few_shot[10].texts, clinc.few_shot[10].labels)) if y in keep
    ]
    clinc_shots = TextSplit(tuple(t for t, _ in rows), tuple(y for _, y in rows))
    banking_shots = banking.few_shot[10]
    return {
        "banking77": (banking_shots, held_out(banking, banking_shots, per_label, seed=0)),
        "clinc150-50": (clinc_shots, held_out(clinc, clinc_shots, per_label, seed=0)),
        "clinc150": (clinc.few_shot[10], held_out(clinc, clinc.few_shot[10], per_label, seed=0)),
    }


def score(clf: fewshot.FewShotClassifier, split: TextSplit) -> float:
    predicted = clf.predict(list(split.texts))
    return 100 * sum(p == y for p, y in zip(predicted, split.labels, strict=True)) / len(split)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="data root holding clinc150/ and banking77/")
    parser.add_argument(
        "--configs", nargs="+", default=DEFAULT_CONFIGS, help="loss:layers:epochs:lr"
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="finetune() seeds")
    parser.add_argument(
        "--val-per-intent",
        type=int,
        default=10,
        help="validation utterances per intent (CLINC150 has 20 per intent in val)",
    )
    parser.add_argument("--name", default="text_finetune_select", help="results JSON name")
    parser.add_argument(
        "--tasks",
        nargs="+",
        choices=["banking77", "clinc150-50", "clinc150"],
        default=["banking77", "clinc150-50"],
        help="clinc150 = all 150 intents (the 50-intent subset is near its ceiling on val)",
    )
    args = parser.parse_args(argv)
    encoder = fewshot.load_encoder("minilm")
    rows: list[dict[str, object]] = []
    command = " ".join(["python benchmarks/text_finetune_select.py", *(argv or sys.argv[1:])])

    def save() -> Path:  # after every row, so an interrupted sweep keeps what it measured
        return write_json(
            args.name,
            {"command": command, "protocol": __doc__.split("\n\n")[1], "rows": rows},
        )

    for name, (shots, val) in tasks(args.data, args.val_per_intent).items():
        if name not in args.tasks:
            continue
        clf = fewshot.FewShotClassifier(encoder)
        clf.register_many(shots.by_label())
        rows.append(
            {
                "task": name,
                "config": "frozen",
                "seed": None,
                "val_size": len(val),
                "val_accuracy": score(clf, val),
                "minutes": 0.0,
            }
        )
        print(rows[-1], flush=True)
        save()
        for config, seed in [(c, s) for c in args.configs for s in args.seeds]:
            loss, layers, epochs, lr = config.split(":")
            start = time.perf_counter()
            clf = fewshot.FewShotClassifier(encoder)
            clf.register_many(shots.by_label())
            clf.finetune(
                loss=loss,
                layers=int(layers),
                epochs=int(epochs),
                lr=float(lr),
                seed=seed,
                progress=False,
            )
            rows.append(
                {
                    "task": name,
                    "config": config,
                    "seed": seed,
                    "val_size": len(val),
                    "val_accuracy": score(clf, val),
                    "minutes": (time.perf_counter() - start) / 60,
                }
            )
            print(rows[-1], flush=True)
            save()
    print_table(rows, ["task", "config", "seed", "val_size", "val_accuracy", "minutes"])
    path = save()
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
