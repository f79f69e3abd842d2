"""``finetune()`` on an image classifier: frozen EfficientNet-Lite0 prototypes, a projection head,
and the later blocks fine-tuned, on 20-way 5-shot Omniglot tasks.

Each task: 20 characters of one alphabet, drawers 1–5 registered (the classifier's shots), the
other 15 drawers' images classified (300 queries). Images at 84 px, grayscale to RGB,
EfficientNet's ``(x − 127) / 128``. Settings are JSON dicts of ``finetune`` options.

    python benchmarks/image_finetune.py --split evaluation --alphabets Kannada Malayalam Tibetan
    python benchmarks/image_finetune.py --split background --alphabets Bengali Korean \\
        --settings '{"loss": "prototypical", "augment": "affine"}'   # choosing on background
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import fewshot
from benchmarks.adabn_omniglot import efficientnet_at
from benchmarks.common import load_average, print_table, write_json
from fewshot.data.omniglot import Omniglot
from fewshot.data.sources import data_root

DEFAULT_SETTINGS = ['{"augment": "affine"}', '{"augment": "none"}']


def task(data: Omniglot, seed: int) -> tuple[dict[str, list], list[tuple[Any, str]]]:
    """20 random characters: 5 drawers' images as shots, the other 15 as queries."""
    chosen = np.random.default_rng(seed).choice(len(data.class_names), 20, replace=False)
    shots, queries = {}, []
    for c in chosen:
        images = data.images(np.flatnonzero(data.labels == c))
        shots[data.class_names[c]] = list(images[:5])
        queries += [(image, data.class_names[c]) for image in images[5:]]
    return shots, queries


def score(clf: fewshot.FewShotClassifier, queries: list[tuple[Any, str]]) -> float:
    predicted = clf.predict([image for image, _ in queries])
    return 100 * float(np.mean([p == label for p, (_, label) in zip(predicted, queries)]))


def run(encoder: Any, shots: dict, queries: list, method: str, options: dict) -> dict[str, Any]:
    start = time.perf_counter()
    clf = fewshot.FewShotClassifier(encoder)
    clf.register_many(shots)
    report = None
    if method == "head":
        clf.finetune(part="head", progress=False)
    elif method == "finetune":
        report = clf.finetune(part="encoder", examples=shots, progress=False, **options)
    return {
        "method": method,
        "settings": json.dumps(options, sort_keys=True) if method == "finetune" else "",
        "accuracy": round(score(clf, queries), 2),
        "seconds": round(time.perf_counter() - start, 1),
        "blocks": ",".join(report.blocks) if report else "",
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="data root holding omniglot/ (default: $FEWSHOT_DATA)")
    parser.add_argument("--split", choices=["background", "evaluation"], default="evaluation")
    parser.add_argument("--alphabets", nargs="+", default=["Kannada", "Malayalam", "Tibetan"])
    parser.add_argument("--settings", nargs="+", default=DEFAULT_SETTINGS)
    parser.add_argument("--image-size", type=int, default=84)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--name", default="image_finetune")
    args = parser.parse_args(argv)
    threads = fewshot.set_num_threads(args.threads)
    root = data_root(args.data) / "omniglot"
    encoder = efficientnet_at(args.image_size)
    rows = []
    for alphabet in args.alphabets:
        data = Omniglot(root, args.split, image_size=args.image_size, alphabets=[alphabet])
        shots, queries = task(data, seed=0)
        plan = [("frozen", {}), ("head", {})]
        plan += [("finetune", json.loads(s)) for s in args.settings]
        for method, options in plan:
            rows.append({"alphabet": alphabet, **run(encoder, shots, queries, method, options)})
            print(rows[-1], flush=True)
    print_table(rows, list(rows[0]))
    path = write_json(
        args.name,
        {
            "command": " ".join(["python benchmarks/image_finetune.py", *(argv or sys.argv[1:])]),
            "threads": threads,
            "load_average": load_average(),
            "protocol": f"Omniglot {args.split}, per alphabet 20 random characters (seed 0), "
            f"drawers 1-5 registered, drawers 6-20 queried (300); {args.image_size} px; "
            "cosine prototypes; finetune options otherwise the defaults",
            "rows": rows,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
