"""Does transductive inference over the query batch beat inductive prototypes, on the same
episodes? CL2N centred on the batch, BD-CSPN and TIM against nearest prototypes, for frozen
encoders on Omniglot (random-drawer episodes and Lake's drawer-pair runs) and on intents.

python benchmarks/transductive.py                     # every configuration (EfficientNet: ~10 min)
python benchmarks/transductive.py --configs minilm-clinc150 conv4-omniglot
python benchmarks/transductive.py --quick             # 100 episodes / runs, no EfficientNet

Each configuration embeds every item of its dataset once (cached on disk under
``--features-cache``, keyed by encoder and data), then scores every method on identical
episodes: the same seeded tasks, so the differences are paired. Balanced query batches (Q per
class) are what episodes give and what TIM's marginal-entropy term assumes; the rows marked
``imbalanced`` score the same episodes with each class keeping ``max(1, round(Q·p_c/max p))``
of its queries, ``p ~ Dirichlet(2)`` (the realistic setting of Veilleux et al. 2021).
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
from episodes.sampler import Episode
from episodes.scoring import EpisodeScorer
from fewshot.data import FewShotDataset, load_dataset
from fewshot.encoders import load_encoder
from fewshot.heads import PrototypicalHead

METHODS = ("none", "cl2n", "bdcspn", "tim")
#: name -> (data, encoder, dataset options, settings: (ways, shots, queries, within, protocol))
CONFIGS: dict[str, tuple[str, str, dict[str, Any], list[tuple[int, int, int, bool, str]]]] = {
    "effnet-omniglot": ("omniglot:evaluation", "efficientnet-lite0", {"image_size": 105},
                        [(20, 1, 15, True, "random"), (20, 1, 1, True, "lake"),
                         (20, 1, 15, True, "imbalanced")]),
    "conv4-omniglot": ("omniglot:evaluation", "omniglot-conv4", {"image_size": 105},
                       [(20, 1, 15, True, "random"), (20, 1, 1, True, "lake"),
                        (20, 1, 15, True, "imbalanced")]),
    "minilm-clinc150": ("clinc150:test", "minilm", {},
                        [(5, 1, 15, False, "random"), (5, 5, 15, False, "random"),
                         (20, 1, 15, False, "random"), (20, 1, 15, False, "imbalanced")]),
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


def imbalanced_accuracies(
    features: np.ndarray, episodes: list[Episode], method: str, seed: int
) -> np.ndarray:
    """Per-episode accuracy when each class keeps a Dirichlet(2)-proportioned share of its
    queries (at least one); the same kept queries for every method."""
    import torch

    scorer = EpisodeScorer(PrototypicalHead("euclidean"), method)
    z = torch.from_numpy(features)
    accs = np.empty(len(episodes))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    for e, ep in enumerate(episodes):
        rng = np.random.default_rng([seed, 1_000_000 + e])
        p = rng.dirichlet(np.full(ep.n_way, 2.0))
        keep = np.maximum(1, np.round(ep.query.shape[1] * p / p.max())).astype(int)
        rows = np.concatenate([ep.query[c, : keep[c]] for c in range(ep.n_way)])
        truth = np.repeat(np.arange(ep.n_way), keep)
        labels = torch.as_tensor(ep.support_labels())
        scores = scorer(z[ep.support.ravel()], labels, z[rows], ep.n_way)
        accs[e] = (scores.argmax(1).numpy() == truth).mean()
    torch.set_num_threads(threads)
    return accs


def run_config(name: str, episodes_n: int, runs_n: int, seed: int, cache: Path) -> dict[str, Any]:
    spec, encoder_name, options, settings = CONFIGS[name]
    data = load_dataset(spec, **options)
    features = features_of(name, data, encoder_name, cache)
    encoder = load_encoder(encoder_name)
    results: dict[str, Any] = {"data": spec, "encoder": encoder_name, "settings": {}}
    for n_way, k_shot, q_query, within, protocol in settings:
        count = runs_n if protocol == "lake" else episodes_n
        imbalanced = protocol == "imbalanced"
        episodes, fields = draw_episodes(
            data, n_way, k_shot, q_query, count, seed, within, "random" if imbalanced else protocol
        )
        label = f"{n_way}w{k_shot}s" + ("" if protocol == "random" else f"-{protocol}")
        row: dict[str, Any] = {"protocol": {**fields, "queries": protocol}}
        for method in METHODS:
            started = time.perf_counter()
            if imbalanced:
                per_episode = imbalanced_accuracies(features, episodes, method, seed).tolist()
            else:
                per_episode = evaluate(
                    encoder, data, episodes, fields, head=PrototypicalHead("euclidean"),
                    transductive=method, features=features,
                )["per_episode"]  # fmt: skip
            a = np.asarray(per_episode)
            row[method] = {"mean": float(a.mean()), "ci95": float(1.96 * a.std() / np.sqrt(a.size)),
                           "episodes": int(a.size), "seconds": round(time.perf_counter() - started, 1),
                           "per_episode": per_episode}  # fmt: skip
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
