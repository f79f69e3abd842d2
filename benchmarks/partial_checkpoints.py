"""What a fine-tuned encoder costs on disk, and whether float16 storage of its trained tensors
keeps its embeddings: EfficientNet-Lite0 (later blocks tuned on Omniglot background
characters) and MiniLM (``finetune_text_encoder``'s default, all 6 layers, on CLINC150 intents).

For each: a full checkpoint (format 1, every tensor), and partial checkpoints (format 2, the base
by name plus the changed tensors) in float32 and float16; each is loaded back and its
embeddings of held-out real inputs (Omniglot evaluation characters; BANKING77 test utterances)
are compared with the fine-tuned encoder's by cosine. ``fewshot.encoders.partial.FP16_SAFE``
lists the bases whose worst cosine stayed ≥ 0.999 here, the rule for ``dtype="auto"``.

    python benchmarks/partial_checkpoints.py
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import fewshot
from benchmarks.common import load_average, print_table, write_json
from fewshot.adapt import finetune_image_encoder, finetune_text_encoder
from fewshot.data import load_banking77, load_clinc150
from fewshot.data.omniglot import Omniglot
from fewshot.data.sources import data_root
from fewshot.encoders import save_checkpoint


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def compare(name: str, tuned: fewshot.TorchEncoder, probe: list[Any], blocks: str) -> list[dict]:
    """Save ``tuned`` three ways, load each, compare embeddings of ``probe`` with its own."""
    reference = tuned.embed(probe)
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for kind, kwargs in (
            ("full", {"partial": False}),
            ("partial float32", {"dtype": "float32"}),
            ("partial float16", {"dtype": "float16"}),
        ):
            folder = save_checkpoint(tuned, Path(work) / kind.replace(" ", "-"), **kwargs)
            start = time.perf_counter()
            loaded = fewshot.load_encoder(folder)
            load_s = time.perf_counter() - start
            out = loaded.embed(probe)
            cos = (out * reference).sum(1) / np.linalg.norm(out, axis=1)
            cos /= np.linalg.norm(reference, axis=1)
            rows.append(
                {
                    "encoder": name,
                    "trained": blocks,
                    "checkpoint": kind,
                    "megabytes": round(folder_size(folder) / 1e6, 2),
                    "load_seconds": round(load_s, 2),
                    "cosine_min": round(float(cos.min()), 6),
                    "cosine_mean": round(float(cos.mean()), 6),
                    "inputs": len(probe),
                }
            )
            print(rows[-1], flush=True)
    return rows


def efficientnet_rows(root: Path, blocks: int) -> list[dict]:
    background = Omniglot(root / "omniglot", "background", image_size=105, alphabets=["Bengali"])
    evaluation = Omniglot(root / "omniglot", "evaluation", image_size=105)
    examples = {}
    for c in range(20):
        rows = np.flatnonzero(background.labels == c)[:5]
        examples[background.class_names[c]] = list(background.images(rows))
    encoder = fewshot.load_encoder("efficientnet-lite0")
    tuned, report = finetune_image_encoder(
        encoder, examples, train_blocks=blocks, loss="cosine-softmax", epochs=10, lr=1e-3,
        augment="none", progress=False,
    )  # fmt: skip
    probe = list(evaluation.images(np.arange(0, len(evaluation), 44)))  # 300 characters
    return compare("efficientnet-lite0", tuned, probe, ", ".join(report.blocks))


def minilm_rows(root: Path) -> list[dict]:
    clinc, banking = load_clinc150(root), load_banking77(root)
    shots = clinc.few_shot[10].by_label()
    examples = {label: shots[label] for label in sorted(shots)[:30]}
    tuned, report = finetune_text_encoder(fewshot.load_encoder("minilm"), examples, progress=False)
    probe = list(banking.test.texts)[:1000]
    return compare("minilm", tuned, probe, f"all {report.layers} layers")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="data root (default: $FEWSHOT_DATA, else ../shared/data)")
    parser.add_argument("--image-blocks", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    threads = fewshot.set_num_threads(args.threads)
    root = data_root(args.data)
    rows = efficientnet_rows(root, args.image_blocks) + minilm_rows(root)
    print_table(rows, list(rows[0]))
    path = write_json(
        "partial_checkpoints",
        {
            "command": " ".join(
                ["python benchmarks/partial_checkpoints.py", *(argv or sys.argv[1:])]
            ),
            "threads": threads,
            "load_average": load_average(),
            "protocol": "EfficientNet-Lite0: last blocks fine-tuned (cosine-softmax, 10 epochs, "
            "lr 1e-3, no augmentation) on 20 Bengali characters x 5 drawers (background), "
            "probed on 300 evaluation characters at 224 px; MiniLM: finetune_text_encoder "
            "defaults on 30 CLINC150 intents x 10 shots, probed on 1000 BANKING77 test "
            "utterances; cosine between each loaded checkpoint's embeddings and the tuned "
            "encoder's own",
            "rows": rows,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
