"""Which examples a training run trains on and which it validates on, as samplers.

``episode_sources(config)`` reads the Omniglot training split (rotations as extra classes
unless it is a Vinyals split, which names its own), decides the validation examples
(``validation_split``) and returns one ``EpisodeSource`` per side: a seeded sampler over the
examples that side may use, and the map from the sampler's example numbers to dataset indices.
``class_split_sources`` does the same for any ``FewShotDataset`` and a ``ClassSplits``:
training episodes over the base classes, validation over the val classes, never the novel.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import numpy as np

from episodes.config import TrainConfig
from episodes.sampler import EpisodeSampler
from fewshot.data.class_splits import ClassSplits
from fewshot.data.dataset import FewShotDataset
from fewshot.data.omniglot import Omniglot
from fewshot.errors import InputError

D = TypeVar("D", bound=FewShotDataset)


@dataclass
class EpisodeSource(Generic[D]):
    """Episodes over part of ``dataset``: ``sampler`` draws example numbers 0..n-1 of that
    part and ``positions`` (n,) holds their dataset indices."""

    dataset: D
    sampler: EpisodeSampler
    positions: np.ndarray


def data_options(config: TrainConfig) -> dict[str, Any]:
    """The ``Omniglot`` keyword arguments every split of a run is read with."""
    return {
        "image_size": config.image_size or 28,
        "cache_dir": config.cache_dir,
        "alphabets": config.alphabets,
        "download": config.download,
    }


def omniglot_folder(root: str) -> str:
    """The folder holding Omniglot's zips: ``root`` itself or its ``omniglot/``."""
    path = Path(root)
    return str(path if (path / "images_background.zip").is_file() else path / "omniglot")


def load_training_set(config: TrainConfig) -> Omniglot:
    """``config.split``, with 90/180/270° rotations as classes when ``config.rotations``."""
    root = omniglot_folder(config.data_root)
    if config.split.startswith("vinyals"):  # the split files list their rotations
        return Omniglot(root, config.split, **data_options(config))
    rotations = (0, 90, 180, 270) if config.rotations else (0,)
    return Omniglot(root, config.split, rotations=rotations, **data_options(config))


def validation_split(
    config: TrainConfig, train_set: Omniglot
) -> tuple[Omniglot, np.ndarray, np.ndarray]:
    """Where validation episodes come from: ``(val_set, train_keep, val_keep)``, boolean masks
    over ``train_set`` and ``val_set`` of the examples each side may use (``val_split``, held-out
    alphabets, or held-out drawers, in that order of precedence)."""
    if config.val_split:
        val_set = Omniglot(
            omniglot_folder(config.data_root), config.val_split, **data_options(config)
        )
        return val_set, np.ones(len(train_set), bool), np.ones(len(val_set), bool)
    if config.val_alphabets:
        names = sorted(set(train_set.class_groups))
        if not 0 < config.val_alphabets < len(names):
            raise InputError(
                f"train: val_alphabets (--val-alphabets) must be in 1..{len(names) - 1}, since "
                f"split {config.split!r} has {len(names)} alphabets here and at least one must "
                f"stay for training; got {config.val_alphabets}"
            )
        held = set(names[-config.val_alphabets :])
        held_out = np.array([g in held for g in train_set.class_groups])[train_set.labels]
        return train_set, ~held_out, held_out & (train_set.rotation == 0)
    train_keep = train_set.drawers <= 20 - config.holdout_drawers
    return train_set, train_keep, ~train_keep


def subset_source(
    dataset: D, keep: np.ndarray, n_way: int, k_shot: int, q_query: int,
    n_episodes: int, seed: int, within: float | bool,
) -> EpisodeSource[D]:  # fmt: skip
    """Episodes over the examples ``keep`` (a boolean mask over ``dataset``). Classes with no
    kept example (a held-out alphabet) are left out, not reported as empty."""
    positions = np.flatnonzero(keep)
    present, labels = np.unique(dataset.labels[positions], return_inverse=True)
    names, groups = dataset.class_names, dataset.class_groups  # properties: build them once
    sampler = EpisodeSampler(
        labels, n_way, k_shot, q_query, n_episodes=n_episodes, seed=seed,
        class_names=[names[c] for c in present],
        groups=None if groups is None else [groups[c] for c in present],
        within_group=within,
    )  # fmt: skip
    return EpisodeSource(dataset, sampler, positions)


def episode_sources(
    config: TrainConfig,
) -> tuple[EpisodeSource[Omniglot], EpisodeSource[Omniglot]]:
    """The training and the validation episodes of a run (validation seeded ``seed + 1``)."""
    train_set = load_training_set(config)
    val_set, train_keep, val_keep = validation_split(config, train_set)
    training = subset_source(
        train_set, train_keep, config.n_way, config.k_shot, config.q_query, config.episodes,
        config.seed, config.within_alphabet,
    )  # fmt: skip
    validation = subset_source(
        val_set, val_keep, config.val_way, config.val_shot, config.val_query,
        config.val_episodes, config.seed + 1, config.val_within_alphabet,
    )  # fmt: skip
    return training, validation


@dataclass(frozen=True)
class EpisodeShape:
    """One side's episodes: ``n_way``-way ``k_shot``-shot ``q_query``-query, ``episodes`` of
    them from ``seed``; ``within`` the fraction drawn within one class group."""

    n_way: int
    k_shot: int
    q_query: int
    episodes: int
    seed: int
    within: float | bool = False


def class_split_sources(
    dataset: D, splits: ClassSplits, train: EpisodeShape, val: EpisodeShape
) -> tuple[EpisodeSource[D], EpisodeSource[D]]:
    """Training episodes over ``splits.base``, validation episodes over ``splits.val``, both
    positions into ``dataset``; the novel classes are never read. Unknown classes raise."""
    splits.check(dataset)
    if not splits.val:
        raise InputError(
            "the class split has no val classes to select the checkpoint on; give the classes "
            "file a [val] section or --split-fractions three values (base val novel)"
        )
    names = dataset.class_names
    sides = []
    for chosen, shape in ((splits.base, train), (splits.val, val)):
        wanted = np.isin(np.asarray(names, dtype=object), np.asarray(chosen, dtype=object))
        keep = wanted[dataset.labels]
        sides.append(subset_source(
            dataset, keep, shape.n_way, shape.k_shot, shape.q_query, shape.episodes, shape.seed,
            shape.within,
        ))  # fmt: skip
    return sides[0], sides[1]
