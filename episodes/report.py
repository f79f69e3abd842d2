"""Evaluation reports for people: one line per setting, and the JSON file with its histogram.

A report is the dict ``episodes.evaluate.evaluate`` returns (``format``
``"fewshot.evaluation"``): ``protocol``, ``accuracy`` (mean, ci95, std, episodes),
``per_episode`` accuracies, ``images_embedded`` and ``seconds``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np


def format_result(report: dict[str, Any]) -> str:
    """One line: accuracy ± CI with the protocol beside it."""
    p, a = report["protocol"], report["accuracy"]
    data = p.get("data", {})
    where = f"{p.get('split')} {p.get('image_size')}px"
    if data.get("dataset") not in (None, "omniglot"):
        where = " ".join(str(v) for v in (data.get("dataset"), data.get("path") or p.get("split")))
    if "class_split" in p:
        where += f" ({p['class_split']} classes)"
    extras = [
        f"protocol={p['protocol']}" if p.get("protocol", "random") != "random" else "",
        f"head={p['head']['type']}" if p.get("head", {}).get("type") == "siamese" else "",
        f"transductive={p['transductive']}" if p.get("transductive", "none") != "none" else "",
    ]
    return (
        f"{100 * a['mean']:.2f} ± {100 * a['ci95']:.2f}%  "
        f"({p.get('n_way')}-way {p.get('k_shot')}-shot, {p.get('q_query')} queries, "
        f"E={a['episodes']}, seed={p.get('seed')}, {where}, "
        f"within_alphabet={p.get('within_group')}, encoder={_encoder_label(p['encoder'])}, "
        f"transform={p['transform']['type']}{''.join(', ' + x for x in extras if x)})"
    )


def _encoder_label(spec: dict[str, Any]) -> str:
    """A trained checkpoint by its folder (its spec keeps the name of the network it started
    from, which alone would read as that network), anything else by its name."""
    checkpoint = spec.get("checkpoint")
    return (
        f"{Path(checkpoint).parent.name}/{Path(checkpoint).name}"
        if checkpoint
        else str(spec.get("name"))
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
