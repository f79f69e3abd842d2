"""The labelled sources a training run learns from, one task each: which examples it trains on
and which it validates on, as episode samplers.

``load_tasks(config, mode, log)`` reads every ``config.data`` source (a folder, a CSV/JSON of
text rows, ``omniglot``, ``clinc150``, ``banking77``; None: the Omniglot ``split``, exactly as
before ``--data`` existed) and decides its validation examples, in this order:

1. a class split (``classes`` file or seeded ``split_fractions``): train on base classes,
   validate on val classes, never read the novel ones;
2. Omniglot without a class split: held-out drawers, alphabets or another split (``splits``);
3. a named dataset with a validation split of the same classes (CLINC150's ``val``);
4. data with per-item sources: the last sources held out of every class;
5. otherwise ``holdout_fraction`` of every class's examples, drawn with ``split_seed``.

Validation shapes adapt to small data (fewer ways or queries, classes too small left out),
each change explained in a log line; training shapes never adapt: a class with fewer examples
than shots + queries is an error naming it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from episodes.config import TrainConfig
from episodes.splits import EpisodeSource, episode_sources, subset_source
from fewshot.data import ClassSplits, FewShotDataset, load_dataset
from fewshot.data.load import NAMED_SPLITS
from fewshot.errors import InputError

Log = Callable[[str], None]
TASK_SEED_STRIDE = 7919  # task t's episodes are seeded seed + t·stride (task 0: seed itself)


@dataclass
class Task:
    """One labelled source: its ``name`` (for reports), ``key`` (of its head), training and
    validation episodes, and ``info`` (data description, validation kind, adapted shapes)."""

    name: str
    key: str
    training: EpisodeSource[Any]
    validation: EpisodeSource[Any]
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return str(self.training.dataset.kind)


def task_name(spec: str | None) -> str:
    """``None`` → ``omniglot``; a path → its file or folder name; a name → itself."""
    if spec is None:
        return "omniglot"
    path = Path(spec)
    return path.stem if path.suffix else (path.name or spec)


def named(spec: str) -> tuple[str, str | None]:
    """``("clinc150", "train")`` for ``clinc150:train``; ``("", None)`` for paths."""
    if Path(spec).exists():
        return "", None
    name, _, split = spec.lower().partition(":")
    return (name, split or None) if name in NAMED_SPLITS else ("", None)


def data_root(config: TrainConfig, name: str) -> str:
    """The root holding ``name``'s folder: ``config.data_root``, or its parent when that is the
    Omniglot folder (the default of runs without ``--data``)."""
    root = Path(config.data_root)
    if (root / "images_background.zip").is_file() and not (root / name).is_dir():
        return str(root.parent)
    return str(root)


def load_tasks(config: TrainConfig, mode: str, log: Log) -> list[Task]:
    """Every task of the run, in ``config.data`` order; ``mode`` is the image mode the
    network reads (``"RGB"`` or ``"L"``)."""
    specs: list[str | None] = list(config.data) if config.data else [None]
    tasks: list[Task] = []
    names: set[str] = set()
    for t, spec in enumerate(specs):
        name = task_name(spec)
        while name in names:
            name += "+"
        names.add(name)
        seed = config.seed + TASK_SEED_STRIDE * t
        task = _load_task(replace(config, seed=seed), spec, name, f"t{t}", mode, log)
        tasks.append(task)
    kinds = {task.kind for task in tasks}
    if len(kinds) > 1:
        raise InputError(
            f"train: the tasks hold {' and '.join(sorted(kinds))}; one trunk learns one kind of "
            "input, so train image tasks and text tasks in separate runs"
        )
    return tasks


def _load_task(
    config: TrainConfig, spec: str | None, name: str, key: str, mode: str, log: Log
) -> Task:
    split_given = config.classes is not None or config.split_fractions is not None
    dataset_name, split = named(spec) if spec is not None else ("omniglot", None)
    if dataset_name == "omniglot" and not split_given:
        omniglot = episode_sources(replace(config, split=split or config.split))
        how = "val split" if config.val_split else "held-out alphabets or drawers (Omniglot)"
        return Task(name, key, *omniglot, {"data": omniglot[0].dataset.describe(),
                                                      "validation": how})  # fmt: skip
    assert spec is not None
    dataset = _read(config, spec, dataset_name, split, mode)
    info: dict[str, Any] = {"data": dataset.describe()}
    if split_given:
        splits = _class_splits(config, dataset)
        info["validation"] = f"class split: {splits.describe()}"
        names = np.asarray(dataset.class_names, dtype=object)
        train_keep = np.isin(names, np.asarray(splits.base, dtype=object))[dataset.labels]
        val_keep = np.isin(names, np.asarray(splits.val, dtype=object))[dataset.labels]
        val_set = dataset
    elif dataset_name and "val" in NAMED_SPLITS[dataset_name] and split in (None, "train"):
        val_set = _read(config, f"{dataset_name}:val", dataset_name, "val", mode)
        train_keep, val_keep = np.ones(len(dataset), bool), np.ones(len(val_set), bool)
        info["validation"] = f"{dataset_name}'s val split (the same classes, other examples)"
    else:
        val_set = dataset
        train_keep, val_keep, info["validation"] = holdout(dataset, config)
    within = config.within_alphabet if dataset.class_groups is not None else 0.0
    if config.within_alphabet and not within:
        log(f"[{name}] the data has no class groups: --within-alphabet is ignored")
    training = subset_source(
        dataset, train_keep, config.n_way, config.k_shot, config.q_query, config.episodes,
        config.seed, within,
    )  # fmt: skip
    val_keep, shape = adapt_validation(val_set, val_keep, config, name, log)
    info["val_shape"] = dict(zip(("n_way", "k_shot", "q_query"), shape, strict=True))
    validation = subset_source(
        val_set, val_keep, *shape, config.val_episodes, config.seed + 1, False
    )
    return Task(name, key, training, validation, info)


def _read(
    config: TrainConfig, spec: str, name: str, split: str | None, mode: str
) -> FewShotDataset:
    """``spec`` as a dataset: images in ``mode`` at their own size (the network's
    preprocessing sizes them), Omniglot at ``config.image_size``."""
    options: dict[str, Any] = {"text_column": config.text_column,
                               "label_column": config.label_column,
                               "group_column": config.group_column, "mode": mode,
                               "download": config.download}  # fmt: skip
    if name:
        options["root"] = data_root(config, name)
        split = split or NAMED_SPLITS[name][0]
        spec = name
    if name == "omniglot":
        options |= {"image_size": config.image_size, "cache_dir": config.cache_dir,
                    "alphabets": config.alphabets,
                    "rotations": (0, 90, 180, 270) if config.rotations else (0,)}  # fmt: skip
    elif config.cache_dir and not name:
        options["disk_cache"] = Path(config.cache_dir) / "images"
    return load_dataset(os.fspath(spec), split, **options)


def _class_splits(config: TrainConfig, dataset: FewShotDataset) -> ClassSplits:
    if config.classes is not None:
        splits = ClassSplits.from_file(config.classes)
    else:
        groups = dataset.class_groups if config.split_by_group else None
        if config.split_by_group and groups is None:
            raise InputError("train: --split-by-group needs class groups, which this data lacks")
        assert config.split_fractions is not None
        splits = ClassSplits.from_fractions(
            dataset.class_names, config.split_fractions, config.split_seed, groups
        )
    splits.check(dataset)
    if not splits.val:
        raise InputError(
            "train: the class split has no val classes to select the checkpoint on; give the "
            "classes file a [val] section or --split-fractions three values (base val novel)"
        )
    return splits


def holdout(dataset: FewShotDataset, config: TrainConfig) -> tuple[np.ndarray, np.ndarray, str]:
    """``(train_keep, val_keep, description)``: the last sources held out when items have
    sources, else ``holdout_fraction`` of every class drawn with ``split_seed``, never leaving
    a class fewer than shots + queries training examples."""
    labels = dataset.labels
    if dataset.sources is not None:
        ids = np.unique(dataset.sources)
        held = ids[len(ids) - max(1, round(config.holdout_fraction * len(ids))) :]
        val = np.isin(dataset.sources, held)
        return ~val, val, f"held-out sources {held.tolist()}"
    order = np.random.default_rng(config.split_seed).permutation(labels.size)
    by_class = order[np.argsort(labels[order], kind="stable")]
    counts = np.bincount(labels, minlength=len(dataset.class_names))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.arange(labels.size) - starts[labels[by_class]]
    wanted = np.round(config.holdout_fraction * counts).astype(np.int64)
    n_val = np.minimum(wanted, counts - (config.k_shot + config.q_query))
    n_val[n_val < config.val_shot + 1] = 0
    val = np.zeros(labels.size, bool)
    val[by_class] = rank < n_val[labels[by_class]]
    text = (
        f"held-out examples ({config.holdout_fraction:.0%} of each class, seed {config.split_seed})"
    )
    return ~val, val, text


def adapt_validation(
    dataset: FewShotDataset, keep: np.ndarray, config: TrainConfig, name: str, log: Log
) -> tuple[np.ndarray, tuple[int, int, int]]:
    """Validation examples and ``(ways, shots, queries)`` that fit them: classes with fewer
    than shots + 1 examples are left out, ways and queries lowered to what remains."""
    shot = config.val_shot
    counts = np.bincount(dataset.labels[keep], minlength=len(dataset.class_names))
    usable = counts >= shot + 1
    if usable.sum() < 2:
        raise InputError(
            f"train: task {name!r} has {int(usable.sum())} class(es) with at least "
            f"{shot + 1} validation examples; validation needs two. Give a class split with val "
            "classes (--classes / --split-fractions), more examples per class, or a larger "
            "--holdout-fraction"
        )
    way = min(config.val_way, int(usable.sum()))
    query = min(config.val_query, int(counts[usable].min()) - shot)
    dropped = int(((counts > 0) & ~usable).sum())
    if (way, query) != (config.val_way, config.val_query) or dropped:
        log(
            f"[{name}] validation adapted to the data: {way}-way {shot}-shot {query}-query "
            f"(asked {config.val_way}-way {config.val_query}-query; {int(usable.sum())} classes "
            f"have {shot + 1}+ validation examples, the smallest {int(counts[usable].min())}"
            + (f"; {dropped} smaller classes left out)" if dropped else ")")
        )
    return keep & usable[dataset.labels], (way, shot, query)
