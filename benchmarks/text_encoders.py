"""Frozen text encoders side by side: nearest-prototype accuracy from the fixed 5- and 10-shot
subsets of BANKING77 and CLINC150 (all intents, full in-scope test sets), as
``benchmarks/text_prototypes.py`` measures MiniLM, for every encoder named.

    python benchmarks/text_encoders.py                          # minilm and mpnet
    python benchmarks/text_encoders.py --encoders minilm PATH   # any load_encoder source

Test sets are embedded once per encoder; CPU seconds per encoder are reported beside.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import fewshot
from benchmarks.common import load_average, print_table, write_json
from fewshot.data import IntentDataset, load_banking77, load_clinc150


def prototype_accuracy(
    encoder: fewshot.Encoder, ds: IntentDataset, test: np.ndarray, shots: int
) -> float:
    """Percent of the test set whose nearest (cosine) class mean of the fixed shots is right."""
    subset = ds.few_shot[shots].by_label()
    labels = sorted(subset)
    means = np.stack([encoder.embed(subset[label]).mean(0) for label in labels])
    means /= np.linalg.norm(means, axis=1, keepdims=True)
    unit = test / np.linalg.norm(test, axis=1, keepdims=True)
    predicted = np.asarray(labels, dtype=object)[(unit @ means.T).argmax(1)]
    return 100 * float(np.mean(predicted == np.asarray(list(ds.test.labels), dtype=object)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="data root (default: $FEWSHOT_DATA, else ../shared/data)")
    parser.add_argument("--encoders", nargs="+", default=["minilm", "mpnet"])
    parser.add_argument("--shots", nargs="+", type=int, choices=[5, 10], default=[5, 10])
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    threads = fewshot.set_num_threads(args.threads)
    datasets = [load_banking77(args.data), load_clinc150(args.data)]
    rows = []
    for name in args.encoders:
        start_cpu = time.process_time()
        encoder = fewshot.load_encoder(name)
        for ds in datasets:
            test = encoder.embed(list(ds.test.texts))
            for shots in args.shots:
                accuracy = prototype_accuracy(encoder, ds, test, shots)
                rows.append(
                    {"encoder": name, "dim": encoder.dim, "dataset": ds.name, "shots": shots,
                     "accuracy": round(accuracy, 2)}
                )  # fmt: skip
                print(rows[-1], flush=True)
        for row in rows:
            if row["encoder"] == name:
                row["encoder_cpu_seconds"] = round(time.process_time() - start_cpu, 1)
    print_table(rows, list(rows[0]))
    path = write_json(
        "text_encoders",
        {
            "command": " ".join(["python benchmarks/text_encoders.py", *(argv or sys.argv[1:])]),
            "threads": threads,
            "load_average": load_average(),
            "protocol": "fixed K-shot subsets, all intents, full in-scope test sets (BANKING77 "
            "3,080; CLINC150 4,500); cosine to each intent's mean shot embedding; CPU seconds "
            "per encoder include loading and every embedding",
            "rows": rows,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
