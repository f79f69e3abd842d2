"""Does transductive inference over the query batch beat inductive prototypes, on the same
episodes? CL2N centred on the batch, BD-CSPN and TIM against nearest prototypes, for frozen
encoders on Omniglot (random-drawer episodes and Lake's drawer-pair runs) and on intents.

python benchmarks/transductive.py                     # every configuration (EfficientNet: ~10 min)
python benchmarks/transductive.py --configs minilm-clinc150 conv4-omniglot
python benchmarks/transductive.py --quick             # 100 episodes / runs, no EfficientNet

Each configuration embeds every item of its dataset once (cached on disk under
``--features-cache``, keyed by encoder and data), then scores every method on identical
episodes: the same seeded tasks, so the differences are paired.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from benchmarks.common import load_average, write_json
from episodes.evaluate import embed_indices, evaluate
from episodes.protocols import draw_episodes
from fewshot.data import FewShotDataset, load_dataset
from fewshot.encoders import load_encoder
from fewshot.heads import PrototypicalHead

METHODS = ("none", "cl2n", "bdcspn", "tim")
#: name -> (data, encoder, dataset options, settings: (ways, shots, queries, within, protocol))
CONFIGS: dict[str, tuple[str, str, dict[str, Any], list[tuple[int, int, int, bool, str]]]] = {
    "effnet-omniglot": ("omniglot:evaluation", "efficientnet-lite0", {"image_size": 105},
                        [(20, 1, 15, True, "random"), (20, 1, 1, True, "lake")]),
    "conv4-omniglot": ("omniglot:evaluation", "omniglot-conv4", {"image_size": 105},
                       [(20, 1, 15, True, "random"), (20, 1, 1, True, "lake")]),
    "minilm-clinc150": ("clinc150:test", "minilm", {},
                        [(5, 1, 15, False, "random"), (5, 5, 15, False, "random"),
                         (20, 1, 15, False, "random")]),
    "minilm-banking77": ("banking77:test", "minilm", {},
                         [(5, 1, 15, False, "random"), (5, 5, 15, False, "random")]),
}  # fmt: skip


def features_of(name: str, data: FewShotDataset, encoder_name: str, cache: Path) -> np.ndarray:
    """Embeddings (len(data), d) of every item, read from or written to ``cache``."""
    key = json.dumps([encoder_name, data.describe()], sort_keys=True)
    path = cache / f"{name}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.npy"
    if path.is_file():
        return np.load(path)
    encoder = load_encoder(encoder_name)
    started = time.perf_counter()
    features = embed_indices(encoder, data, np.arange(len(data)), batch_size=64, progress=True)
    print(f"  embedded {len(data)} items in {time.perf_counter() - started:.0f} s", flush=True)
    cache.mkdir(parents=True, exist_ok=True)
    np.save(path, features)
    return features


def run_config(name: str, episodes_n: int, runs_n: int, seed: int, cache: Path) -> dict[str, Any]:
    spec, encoder_name, options, settings = CONFIGS[name]
    data = load_dataset(spec, **options)
    features = features_of(name, data, encoder_name, cache)
    encoder = load_encoder(encoder_name)
    results: dict[str, Any] = {"data": spec, "encoder": encoder_name, "settings": {}}
    for n_way, k_shot, q_query, within, protocol in settings:
        count = runs_n if protocol == "lake" else episodes_n
        episodes, fields = draw_episodes(
            data, n_way, k_shot, q_query, count, seed, within, protocol
        )
        label = f"{n_way}w{k_shot}s" + ("-lake" if protocol == "lake" else "")
        row: dict[str, Any] = {"protocol": fields}
        for method in METHODS:
            started = time.perf_counter()
            report = evaluate(
                encoder, data, episodes, fields, head=PrototypicalHead("euclidean"),
                transductive=method, features=features,
            )  # fmt: skip
            acc = report["accuracy"]
            row[method] = {"mean": acc["mean"], "ci95": acc["ci95"], "episodes": acc["episodes"],
                           "seconds": round(time.perf_counter() - started, 1),
                           "per_episode": report["per_episode"]}  # fmt: skip
        base = np.asarray(row["none"]["per_episode"])
        for method in METHODS[1:]:
            diff = np.asarray(row[method]["per_episode"]) - base
            row[method]["gain"] = float(diff.mean())
            row[method]["gain_ci95"] = float(1.96 * diff.std() / np.sqrt(diff.size))
        results["settings"][label] = row
        cells = "  ".join(
            f"{m} {100 * row[m]['mean']:.2f}±{100 * row[m]['ci95']:.2f}" for m in METHODS
        )
        print(f"  {label} ({count} {'runs' if protocol == 'lake' else 'episodes'}): {cells}",
              flush=True)  # fmt: skip
    return results


def print_table(result: dict[str, Any]) -> None:
    print("\n| encoder, data | setting | inductive prototypes | CL2N (batch) | BD-CSPN | TIM |")
    print("|---|---|---|---|---|---|")
    for cfg in result["configs"].values():
        for label, row in cfg["settings"].items():
            cells = [f"{100 * row['none']['mean']:.2f} ± {100 * row['none']['ci95']:.2f}"]
            cells += [f"{100 * row[m]['mean']:.2f} ({100 * row[m]['gain']:+.2f} ± "
                      f"{100 * row[m]['gain_ci95']:.2f})" for m in METHODS[1:]]  # fmt: skip
            print(f"| {cfg['encoder']}, {cfg['data']} | {label} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", choices=list(CONFIGS), default=list(CONFIGS))
    parser.add_argument("--episodes", type=int, default=1000, help="random-drawer episodes")
    parser.add_argument("--runs", type=int, default=400, help="Lake runs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="100 episodes/runs, no EfficientNet")
    parser.add_argument("--features-cache", default=str(Path.home() / ".cache/fewshot/features"))
    parser.add_argument("--name", default=None, help="JSON name under benchmarks/results/")
    args = parser.parse_args()
    configs = [c for c in args.configs if not (args.quick and c.startswith("effnet"))]
    episodes_n, runs_n = (100, 100) if args.quick else (args.episodes, args.runs)
    started = time.perf_counter()
    result: dict[str, Any] = {
        "question": "transductive inference (CL2N on the batch, BD-CSPN, TIM) against "
        "inductive prototypes, frozen encoders, identical episodes",
        "command": " ".join(["python", *sys.argv]),
        "load_average_start": load_average(),
        "configs": {},
    }
    for name in configs:
        print(f"{name}:", flush=True)
        result["configs"][name] = run_config(name, episodes_n, runs_n, args.seed,
                                             Path(args.features_cache))  # fmt: skip
    result["seconds"] = round(time.perf_counter() - started, 1)
    print_table(result)
    for cfg in result["configs"].values():  # keep the committed JSON small
        for row in cfg["settings"].values():
            for m in METHODS:
                row[m].pop("per_episode")
    name = args.name or ("transductive_quick" if args.quick else "transductive")
    print(f"\nwrote {write_json(name, result)} ({result['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
