"""Does AdaBN help frozen ImageNet features on handwritten characters? EfficientNet-Lite0, frozen,
on within-alphabet 20-way 1-shot episodes of the 20 Omniglot evaluation alphabets, with its
BatchNorm statistics as shipped (ImageNet) or re-estimated on unlabelled background-alphabet
images (``fewshot.adapt.adabn``) in the last N blocks.

Images at 84 px, grayscale to RGB, EfficientNet's own ``(x − 127) / 128``; episodes from
``episodes.protocols.score_setting`` (seeded, the same for every row); prototypes compared by
cosine (``transform="l2"``). AdaBN never sees an evaluation image.

    python benchmarks/adabn_omniglot.py                      # 1000 episodes, 15 queries
    python benchmarks/adabn_omniglot.py --episodes 100 --layers 0 1 18   # quick
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import fewshot
from benchmarks.common import load_average, machine, print_table, write_json
from episodes.protocols import score_setting
from fewshot.adapt import adabn
from fewshot.data.omniglot import Omniglot
from fewshot.data.sources import data_root
from fewshot.encoders import ImagePreprocess, TorchEncoder
from fewshot.encoders.image import build_efficientnet_lite0


def efficientnet_at(size: int) -> TorchEncoder:
    """Frozen ImageNet EfficientNet-Lite0 taking ``size``-px images (its own normalisation)."""
    preprocess = ImagePreprocess(
        size=size, resize=size, mode="RGB", mean=(127 / 255,) * 3, std=(128 / 255,) * 3
    )
    spec = {"name": "efficientnet-lite0", "image_size": size}
    return TorchEncoder(
        build_efficientnet_lite0(), preprocess, dim=1280, spec=spec, batch_size=128,
        channels_last=True, preprocess_spec={"kind": "image", **preprocess.to_dict()},
    )  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="data root holding omniglot/ (default: $FEWSHOT_DATA)")
    parser.add_argument("--image-size", type=int, default=84)
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=15)
    parser.add_argument("--adapt-images", type=int, default=2000, help="background images")
    parser.add_argument(
        "--layers", type=int, nargs="+", default=[0, 1, 2, 4, 8, 18],
        help="AdaBN in the last N blocks (0: none, 18: all of EfficientNet-Lite0)",
    )  # fmt: skip
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--name", default="adabn_omniglot")
    args = parser.parse_args(argv)
    threads = fewshot.set_num_threads(args.threads)
    root = data_root(args.data) / "omniglot"
    size = args.image_size
    evaluation = Omniglot(root, "evaluation", image_size=size)
    background = Omniglot(root, "background", image_size=size)
    pick = np.random.default_rng(0).choice(len(background), args.adapt_images, replace=False)
    unlabelled = list(background.images(np.sort(pick)))
    base = efficientnet_at(size)
    rows = []
    for layers in args.layers:
        start = time.perf_counter()
        encoder = base if layers == 0 else adabn(base, unlabelled, layers=layers, batch_size=64)
        adapt_s = time.perf_counter() - start
        report = score_setting(
            encoder, evaluation, "evaluation", size, n_way=20, k_shot=1, q_query=args.queries,
            n_episodes=args.episodes, seed=0, within_alphabet=True, transform="l2",
        )  # fmt: skip
        accuracy = report["accuracy"]
        rows.append(
            {
                "adabn_blocks": layers,
                "accuracy": round(100 * accuracy["mean"], 2),
                "ci95": round(100 * accuracy["ci95"], 2),
                "adapt_seconds": round(adapt_s, 1),
                "embed_seconds": report["seconds"]["embed"],
            }
        )
        print(rows[-1], flush=True)
    print_table(rows, list(rows[0]))
    path = write_json(
        args.name,
        {
            "command": " ".join(["python benchmarks/adabn_omniglot.py", *(argv or sys.argv[1:])]),
            "protocol": f"within-alphabet 20-way 1-shot, {args.queries} queries, "
            f"{args.episodes} episodes, seed 0, 20 evaluation alphabets, {size} px, cosine "
            f"prototypes; AdaBN on {args.adapt_images} random background images (seed 0)",
            "machine": machine(),
            "threads": threads,
            "load_average": load_average(),
            "rows": rows,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
