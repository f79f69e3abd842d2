"""One Omniglot evaluation setting as a function, and the published tables it is compared to.

``score_setting`` is what ``fewshot evaluate`` runs for each (ways, shots) pair: draw fixed
seeded episodes (or read them from a manifest), embed their images once, score them, and
return the JSON report with every protocol field. ``benchmarks/omniglot_tables.py`` calls the
same function for the Vinyals-split table and within-alphabet 20-way 1-shot; the README's
"Episodic training and evaluation (Omniglot)" section shows both tables.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from episodes.config import EVALUATION
from episodes.evaluate import evaluate
from episodes.manifest import load_manifest, save_manifest
from episodes.sampler import EpisodeSampler
from fewshot.encoders import Encoder

#: The Vinyals-split settings, in the order papers print them: (ways, shots).
VINYALS_SETTINGS: tuple[tuple[int, int], ...] = ((5, 1), (5, 5), (20, 1), (20, 5))

#: Published Vinyals-split accuracies (%), 28×28 images, Conv-4-sized networks, as each paper
#: reports them in its Omniglot table.
PUBLISHED_VINYALS: dict[str, dict[str, float]] = {
    "Prototypical Networks (Snell et al. 2017)": {
        "5w1s": 98.8, "5w5s": 99.7, "20w1s": 96.0, "20w5s": 98.9,
    },
    "MAML (Finn et al. 2017)": {"5w1s": 98.7, "5w5s": 99.9, "20w1s": 95.8, "20w5s": 98.9},
    "Matching Networks (Vinyals et al. 2016)": {
        "5w1s": 98.1, "5w5s": 98.9, "20w1s": 93.8, "20w5s": 98.5,
    },
}  # fmt: skip

#: Within-alphabet 20-way 1-shot on the 20 evaluation alphabets (%), background-only training.
PUBLISHED_WITHIN_ALPHABET: dict[str, float] = {
    "ProtoNet as reported by Lake et al. 2019": 86.3,
    "Koch et al. siamese net (the floor)": 92.0,
    "people (the goal)": 95.5,
}


def setting_name(n_way: int, k_shot: int) -> str:
    """``(20, 1)`` → ``"20w1s"``."""
    return f"{n_way}w{k_shot}s"


def score_setting(
    encoder: Encoder,
    data: Any,
    split: str,
    image_size: int,
    n_way: int,
    k_shot: int,
    q_query: int = EVALUATION.q_query,
    n_episodes: int = EVALUATION.n_episodes,
    seed: int = EVALUATION.seed,
    within_alphabet: bool = False,
    head: nn.Module | None = None,
    transform: str = EVALUATION.transform,
    fit_features: np.ndarray | None = None,
    manifest: str | Path | None = None,
    batch_size: int = EVALUATION.batch_size,
) -> dict[str, Any]:
    """Evaluate ``encoder`` on ``n_episodes`` seeded ``n_way``-way ``k_shot``-shot episodes of
    ``data`` (an ``Omniglot`` split): the report of ``episodes.evaluate.evaluate``.

    ``manifest``: read the episodes from this JSON file if it exists, else write them there,
    so another method can be scored on exactly the same tasks.
    """
    if manifest is not None and Path(manifest).is_file():
        episodes, header = load_manifest(manifest, data.class_names)
        protocol = header["protocol"]
    else:
        sampler = EpisodeSampler(
            data.labels, n_way, k_shot, q_query, n_episodes=n_episodes, seed=seed,
            class_names=data.class_names, groups=data.class_groups,
            within_group=within_alphabet,
        )  # fmt: skip
        episodes, protocol = list(sampler), sampler.protocol()
        if manifest is not None:
            save_manifest(sampler, manifest, data.class_names, dataset=data.describe())
    backbone = encoder.spec.get("architecture") or encoder.spec.get("name")
    protocol = {**protocol, "split": split, "image_size": image_size, "backbone": backbone}
    return evaluate(
        encoder, data, episodes, protocol, head=head, transform=transform,
        fit_features=fit_features, batch_size=batch_size,
    )  # fmt: skip
