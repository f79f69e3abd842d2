"""One evaluation setting as a function, and the published Omniglot tables it is compared to.

``draw_episodes`` fixes the tasks: seeded random-drawer episodes (``protocol="random"``) or
Lake's drawer-pair runs (``protocol="lake"``, see ``episodes.lake``), or the ones a manifest
holds. ``score_setting`` is what ``fewshot evaluate`` runs for each (ways, shots) pair: draw
the episodes, embed their items once, score them, and return the JSON report with every
protocol field. ``benchmarks/omniglot_tables.py`` calls the same function for the
Vinyals-split table and within-alphabet 20-way 1-shot under both protocols; the README's
"Episodic training and evaluation (Omniglot)" and "Evaluation protocols" sections show them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from episodes.config import EVALUATION
from episodes.evaluate import evaluate
from episodes.lake import LakeRuns
from episodes.manifest import load_manifest, save_manifest
from episodes.sampler import Episode, EpisodeSampler
from fewshot.encoders import Encoder
from fewshot.errors import InputError

PROTOCOLS = ("random", "lake")

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

#: Lake et al.'s original one-shot task (%): 20-way within an evaluation alphabet, support by
#: one drawer and queries by another, background-only training. Every number here was
#: measured on that protocol (``protocol="lake"``), not on random-drawer episodes.
PUBLISHED_LAKE: dict[str, float] = {
    "ProtoNet as reported by Lake et al. 2019": 86.3,
    "Koch et al. siamese net (the floor)": 92.0,
    "people (the goal)": 95.5,
    "Bayesian Program Learning (Lake et al. 2015)": 96.7,
}
#: The name the within-alphabet table used before both protocols were scored.
PUBLISHED_WITHIN_ALPHABET = PUBLISHED_LAKE


def setting_name(n_way: int, k_shot: int) -> str:
    """``(20, 1)`` → ``"20w1s"``."""
    return f"{n_way}w{k_shot}s"


def draw_episodes(
    data: Any, n_way: int, k_shot: int, q_query: int = EVALUATION.q_query,
    n_episodes: int = EVALUATION.n_episodes, seed: int = EVALUATION.seed,
    within_group: bool | float = False, protocol: str = EVALUATION.protocol,
    manifest: str | os.PathLike[str] | None = None,
) -> tuple[list[Episode], dict[str, Any]]:  # fmt: skip
    """``(episodes, protocol fields)`` of one setting on ``data`` (any ``FewShotDataset``).

    ``protocol="random"``: ``EpisodeSampler`` episodes (within one class group when
    ``within_group``); ``"lake"``: ``n_episodes`` Lake runs (needs ``n_way``-way 1-shot, one
    query per class). ``manifest``: read the episodes from this JSON file if it exists, else
    write them there, so another method is scored on exactly the same tasks.
    """
    if protocol not in PROTOCOLS:
        raise InputError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    if manifest is not None and Path(manifest).is_file():
        episodes, header = load_manifest(manifest, data.class_names)
        return episodes, header["protocol"]
    runs: LakeRuns | EpisodeSampler
    if protocol == "lake":
        if k_shot != 1:
            raise InputError(
                f"Lake's protocol is one-shot (one drawer's image per class), got k_shot={k_shot};"
                " use --shots 1 or --protocol random"
            )
        runs = LakeRuns.from_dataset(data, n_runs=n_episodes, seed=seed, n_way=n_way)
    else:
        runs = EpisodeSampler(
            data.labels, n_way, k_shot, q_query, n_episodes=n_episodes, seed=seed,
            class_names=data.class_names, groups=data.class_groups, within_group=within_group,
        )  # fmt: skip
    if manifest is not None:
        save_manifest(runs, manifest, data.class_names, dataset=data.describe())
    return list(runs), runs.protocol()


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
    manifest: str | os.PathLike[str] | None = None,
    batch_size: int = EVALUATION.batch_size,
    protocol: str = EVALUATION.protocol,
    transductive: str = EVALUATION.transductive,
    siamese_reduce: str = EVALUATION.siamese_reduce,
    features: np.ndarray | None = None,
) -> dict[str, Any]:
    """Evaluate ``encoder`` on ``n_episodes`` seeded ``n_way``-way ``k_shot``-shot episodes of
    ``data`` (an ``Omniglot`` split, or any ``FewShotDataset``): the report of
    ``episodes.evaluate.evaluate``.

    ``protocol``: ``random`` episodes or ``lake`` runs (``n_episodes`` of them); ``manifest``,
    see ``draw_episodes``; ``transductive``, ``siamese_reduce`` and ``features`` as in
    ``evaluate``.
    """
    episodes, fields = draw_episodes(
        data, n_way, k_shot, q_query, n_episodes, seed, within_alphabet, protocol, manifest
    )
    backbone = encoder.spec.get("architecture") or encoder.spec.get("name")
    fields = {"protocol": "random", **fields, "split": split, "image_size": image_size,
              "backbone": backbone}  # fmt: skip
    return evaluate(
        encoder, data, episodes, fields, head=head, transform=transform,
        fit_features=fit_features, batch_size=batch_size, transductive=transductive,
        siamese_reduce=siamese_reduce, features=features,
    )  # fmt: skip
