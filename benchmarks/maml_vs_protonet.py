"""MAML (learn2learn's, on its CNN4) against ProtoNet (the shipped ``omniglot-conv4``) on the
same Omniglot episode manifests.

Episodes: the 20 evaluation alphabets (659 characters, never seen in training), 28 px, N-way
K-shot with 15 queries, drawn once by a seeded ``EpisodeSampler``, written as a manifest and
read back; both methods score exactly those episodes (mean ± 95% CI, 1.96·σ/√E).

ProtoNet: ``fewshot.load_encoder("omniglot-conv4")`` through ``episodes.evaluate.evaluate``
(trained with the prototypical loss on the 30 background alphabets with rotations, 28 px;
10,742 episodes on a GPU, see ``benchmarks/results/omniglot_conv4.json``).
MAML: ``episodes.maml.train_maml`` meta-trains learn2learn's ``MAML(CNN4)`` on tasks of
the same N-way K-shot shape from the same background data for ``--minutes`` of this CPU (not to
convergence), then adapts on each episode's support for ``test_steps`` steps. Meta-batches of
8 tasks (learn2learn's example uses 32): on this CPU one second-order 5-way task costs ~140 ms
and a 20-way one ~470 ms, so smaller batches give more updates in the same minutes.

    python benchmarks/maml_vs_protonet.py --minutes 5 --episodes 300     # ~15 minutes here
    python benchmarks/maml_vs_protonet.py --quick                         # ~3 minutes
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import fewshot

# isort: split
import numpy as np
import torch

from benchmarks.common import load_average, print_table, write_json
from episodes.evaluate import confidence_interval, evaluate
from episodes.images import DeviceImages
from episodes.learn2learn import require_learn2learn
from episodes.maml import MAMLConfig, evaluate_maml, train_maml
from episodes.manifest import load_manifest, save_manifest
from episodes.sampler import EpisodeSampler
from fewshot.data.omniglot import Omniglot
from fewshot.encoders.omniglot import ink

#: Published on the Vinyals split, Conv-4, 28 px (``episodes.protocols.PUBLISHED_VINYALS``;
#: another split of classes than the one used here).
PUBLISHED = {
    (5, 1): {"ProtoNet (Snell et al. 2017)": 98.8, "MAML (Finn et al. 2017)": 98.7},
    (20, 1): {"ProtoNet (Snell et al. 2017)": 96.0, "MAML (Finn et al. 2017)": 95.8},
    (5, 5): {"ProtoNet (Snell et al. 2017)": 99.7, "MAML (Finn et al. 2017)": 99.9},
    (20, 5): {"ProtoNet (Snell et al. 2017)": 98.9, "MAML (Finn et al. 2017)": 98.9},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", default="../shared/data/omniglot", help="Omniglot folder")
    parser.add_argument("--settings", nargs="+", default=["5:1", "20:1"], help="WAYS:SHOTS")
    parser.add_argument("--queries", type=int, default=15, help="queries per class")
    parser.add_argument("--episodes", type=int, default=300, help="test episodes per setting")
    parser.add_argument("--minutes", type=float, default=5.0, help="MAML training per setting")
    parser.add_argument("--meta-batch", type=int, default=8, help="MAML tasks per update")
    parser.add_argument("--train-queries", type=int, default=1, help="MAML training queries")
    parser.add_argument("--test-steps", type=int, default=3, help="MAML adaptation at test")
    parser.add_argument("--seed", type=int, default=0, help="seed of episodes and MAML")
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--manifest-dir", default=None, help="keep the manifests here")
    parser.add_argument("--quick", action="store_true", help="30 s of MAML, 50 episodes")
    args = parser.parse_args()
    if args.quick:
        args.minutes, args.episodes = 0.5, 50
    if args.threads:
        fewshot.set_num_threads(args.threads)
    l2l = require_learn2learn()
    t_start, load_start = time.perf_counter(), load_average()
    background = Omniglot(args.data_root, "background", image_size=28, rotations=(0, 90, 180, 270))
    test = Omniglot(args.data_root, "evaluation", image_size=28)
    train_images = DeviceImages(background, torch.device("cpu"))
    encoder = fewshot.load_encoder("omniglot-conv4")
    manifest_dir = Path(args.manifest_dir or tempfile.mkdtemp(prefix="maml-vs-protonet-"))

    def fetch(indices: np.ndarray) -> torch.Tensor:
        return ink(torch.from_numpy(test.images(indices)))

    rows, records = [], []
    for setting in args.settings:
        n, k = (int(v) for v in setting.split(":"))
        sampler = EpisodeSampler(test.labels, n, k, args.queries, n_episodes=args.episodes,
                                 seed=args.seed)  # fmt: skip
        path = (
            manifest_dir
            / f"evaluation28_{n}w{k}s{args.queries}q_e{args.episodes}_s{args.seed}.json"
        )
        save_manifest(sampler, path, test.class_names, dataset=test.describe())
        episodes, header = load_manifest(path, test.class_names)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        protocol = {**header["protocol"], "split": "evaluation", "image_size": 28}

        report = evaluate(encoder, test, episodes, protocol, progress=False)
        proto = report["accuracy"]
        config = MAMLConfig(n_way=n, k_shot=k, q_query=args.train_queries,
                            meta_batch=args.meta_batch, test_steps=args.test_steps,
                            minutes=args.minutes, seed=args.seed)  # fmt: skip
        maml, summary = train_maml(config, train_images, background.labels, progress=False)
        t0 = time.perf_counter()
        accs = evaluate_maml(maml, fetch, episodes, config.test_steps)
        maml_eval_s = time.perf_counter() - t0
        mean, ci, std = confidence_interval(accs)
        common = {"setting": f"{n}w{k}s", "episodes": len(episodes), "seed": args.seed}
        rows.append({
            "method": "ProtoNet (omniglot-conv4)", **common,
            "accuracy": f"{100 * proto['mean']:.2f} ± {100 * proto['ci95']:.2f}",
            "training": "10742 ep, 60w1s5q, GPU",
        })  # fmt: skip
        rows.append({
            "method": "MAML (learn2learn, CNN4)", **common,
            "accuracy": f"{100 * mean:.2f} ± {100 * ci:.2f}",
            "training": f"{summary['iterations']} it × {config.meta_batch} tasks, "
            f"{summary['train_seconds'] / 60:.1f} CPU min",
        })  # fmt: skip
        print_table(rows[-2:], list(rows[-1]))
        records.append({
            "setting": {"n_way": n, "k_shot": k, "q_query": args.queries},
            "manifest": {"path": str(path), "sha256": digest, "episodes": len(episodes),
                         "seed": args.seed, "split": "evaluation", "image_size": 28},
            "protonet": {"encoder": "omniglot-conv4", "mean": proto["mean"],
                         "ci95": proto["ci95"], "std": proto["std"],
                         "eval_seconds": report["seconds"]["total"]},
            "maml": {"mean": mean, "ci95": ci, "std": std, "eval_seconds": round(maml_eval_s, 1),
                     "config": asdict(config), "iterations": summary["iterations"],
                     "tasks_seen": summary["tasks"], "train_seconds": summary["train_seconds"],
                     "history": summary["history"]},
            "published_vinyals_split": PUBLISHED.get((n, k), {}),
        })  # fmt: skip
    print()
    print_table(rows, list(rows[0]))
    print(
        "\nMAML was meta-trained for the CPU minutes shown, not to convergence (Finn et al. ran "
        "60,000 iterations); published numbers (Vinyals split): "
        + "; ".join(f"{n}w{k}s {v}" for (n, k), v in PUBLISHED.items())
    )
    path = write_json(
        "maml_vs_protonet" + ("_quick" if args.quick else ""),
        {
            "question": "MAML (learn2learn) vs ProtoNet (omniglot-conv4) on the same episodes",
            "command": "python " + " ".join(sys.argv),
            "learn2learn": l2l.__version__,
            "threads": torch.get_num_threads(),
            "load_average_at_start": load_start,
            "results": records,
            "seconds": round(time.perf_counter() - t_start, 1),
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
