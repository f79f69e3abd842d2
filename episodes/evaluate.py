"""Score any encoder + head on fixed, seeded episodes: mean accuracy ± 95% CI, JSON and a plot.

Every image an episode uses is embedded once; episodes then only index the embedding
matrix, so 1000 episodes cost one pass of the encoder. The CI is 1.96·σ/√E over per-episode
accuracies (σ the population standard deviation, E the number of episodes).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from episodes.sampler import Episode
from fewshot.encoders import Encoder, wrap_module
from fewshot.encoders.omniglot import omniglot_preprocess
from fewshot.heads import PrototypicalHead, build_transform
from fewshot.heads.transforms import CL2N

REPORT_VERSION = 1


def pixel_encoder(image_size: int) -> Encoder:
    """Raw pixels as a baseline encoder: ink intensities flattened, (B, S·S)."""
    return wrap_module(nn.Flatten(), preprocess=omniglot_preprocess(image_size), name="pixels")


def confidence_interval(accuracies: Sequence[float]) -> tuple[float, float, float]:
    """``(mean, 95% half-width, std)`` of per-episode accuracies: 1.96·σ/√E."""
    a = np.asarray(accuracies, dtype=np.float64)
    if a.size == 0:
        raise ValueError("confidence_interval: no episodes were scored")
    std = float(a.std())
    return float(a.mean()), 1.96 * std / math.sqrt(a.size), std


def embed_indices(
    encoder: Encoder, dataset: Any, indices: np.ndarray, batch_size: int = 512, progress=None
) -> np.ndarray:
    """Embeddings (len(indices), d) of dataset examples, via ``dataset.images`` or items."""
    inputs = list(dataset.images(indices)) if hasattr(dataset, "images") else [
        dataset.items[i] for i in indices
    ]  # fmt: skip
    return encoder.embed(inputs, batch_size=batch_size, progress=progress)


def score_episodes(
    features: np.ndarray,
    row_of: dict[int, int] | np.ndarray,
    episodes: Sequence[Episode],
    head: nn.Module,
    transform: nn.Module,
) -> np.ndarray:
    """Per-episode query accuracy from precomputed features (n, d); ``row_of[i]`` = row of
    dataset index ``i``."""
    z_all = torch.from_numpy(features)
    accs = np.empty(len(episodes))
    with torch.no_grad():
        for e, ep in enumerate(episodes):
            s = transform(z_all[[row_of[i] for i in ep.support.ravel()]])
            q = transform(z_all[[row_of[i] for i in ep.query.ravel()]])
            protos = head.prototypes(s, torch.as_tensor(ep.support_labels()), ep.n_way)
            pred = head(q, protos).argmax(1).numpy()
            accs[e] = (pred == ep.query_labels()).mean()
    return accs


def evaluate(
    encoder: Encoder,
    dataset: Any,
    episodes: Sequence[Episode],
    protocol: dict[str, Any],
    head: nn.Module | None = None,
    transform: str | dict = "identity",
    fit_features: np.ndarray | None = None,
    batch_size: int = 512,
    progress: bool | None = None,
) -> dict[str, Any]:
    """Evaluate ``encoder`` with ``head`` (default: squared-Euclidean prototypes) on episodes.

    ``transform`` is ``identity``, ``l2`` or ``cl2n``; ``cl2n`` centres with the mean of
    ``fit_features`` (base-class features, never the test episodes). Returns a JSON-ready
    report: protocol, accuracy (mean, ci95, std, per-episode), timings.
    """
    head = head if head is not None else PrototypicalHead("sqeuclidean")
    head = head.eval()
    spec = {"type": transform} if isinstance(transform, str) else dict(transform)
    if spec["type"] == "cl2n":
        if fit_features is None:
            raise ValueError("evaluate: transform='cl2n' needs fit_features (base-class features)")
        tf: nn.Module = CL2N(int(fit_features.shape[1])).fit(torch.from_numpy(fit_features))
    else:
        tf = build_transform(spec)
    t0 = time.perf_counter()
    used = np.unique(np.concatenate([np.r_[e.support.ravel(), e.query.ravel()] for e in episodes]))
    features = embed_indices(encoder, dataset, used, batch_size, progress)
    embed_s = time.perf_counter() - t0
    row_of = {int(i): r for r, i in enumerate(used)}
    accs = score_episodes(features, row_of, episodes, head, tf)
    mean, ci, std = confidence_interval(accs)
    return {
        "format": "fewshot.evaluation",
        "version": REPORT_VERSION,
        "protocol": {
            **protocol,
            "encoder": encoder.spec,
            "embedding_dim": int(encoder.dim),
            "head": getattr(head, "spec", {"type": type(head).__name__}),
            "transform": tf.spec,
        },
        "accuracy": {"mean": mean, "ci95": ci, "std": std, "episodes": len(accs)},
        "per_episode": [round(float(a), 6) for a in accs],
        "images_embedded": len(used),
        "seconds": {"embed": round(embed_s, 2), "total": round(time.perf_counter() - t0, 2)},
    }


def format_result(report: dict[str, Any]) -> str:
    """One line: accuracy ± CI with the protocol beside it."""
    p, a = report["protocol"], report["accuracy"]
    return (
        f"{100 * a['mean']:.2f} ± {100 * a['ci95']:.2f}%  "
        f"({p.get('n_way')}-way {p.get('k_shot')}-shot, {p.get('q_query')} queries, "
        f"E={a['episodes']}, seed={p.get('seed')}, {p.get('split')} {p.get('image_size')}px, "
        f"within_alphabet={p.get('within_group')}, encoder={p['encoder'].get('name')}, "
        f"transform={p['transform']['type']})"
    )


def write_report(report: dict[str, Any], path: str | Path, plot: bool = True) -> list[Path]:
    """Write the JSON report and (if matplotlib is installed) a histogram beside it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".part")
    tmp.write_text(json.dumps(report, indent=1))
    tmp.replace(path)
    written = [path]
    if plot:
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            return written
        a = report["accuracy"]
        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.hist(100 * np.asarray(report["per_episode"]), bins=30, color="#4c72b0")
        ax.axvline(100 * a["mean"], color="k", label=f"mean {100 * a['mean']:.2f}%")
        for sign in (-1, 1):
            ax.axvline(100 * (a["mean"] + sign * a["ci95"]), color="k", ls="--", lw=0.8)
        ax.set_xlabel("episode accuracy (%)")
        ax.set_ylabel("episodes")
        ax.set_title(format_result(report).split("  ")[1][:90], fontsize=7)
        ax.legend(fontsize=8)
        fig.tight_layout()
        png = path.with_suffix(".png")
        fig.savefig(png, dpi=120)
        plt.close(fig)
        written.append(png)
    return written
