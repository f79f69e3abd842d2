"""Everything a training run builds before its first step, and episode ``i`` ready for the
network.

``prepare(config, device, log)`` builds the trunk (``episodes.trunk``), reads the tasks
(``episodes.tasks``), decides the augmentation (``auto``: affine distortions for drawn,
grayscale images, crops and flips for photos; none for texts) and whether the frozen prefix is
cached (only when nothing random happens below the trained blocks), makes the feeders, the
validation sets, one head per task, DANN's domain classifier and the ``EpisodeLearner``.
``training_episode(setup, i)`` draws episode ``i``: its task (round-robin or in proportion to
the tasks' classes, seeded), its items' activations (augmented with a generator seeded by the
run's seed and ``i``), siamese pairs and a target-domain batch when asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from torch import nn

from episodes.config import TrainConfig
from episodes.inputs import Feeder, FeedOptions, ImageFeeder, looks_drawn, make_feeder
from episodes.learners import EpisodeLearner, TrainingEpisode, make_heads, siamese_pairs
from episodes.prefix_cache import Activations, PrefixCache
from episodes.target import load_target
from episodes.tasks import Task, load_tasks
from episodes.trunk import Trunk, build_trunk
from episodes.validation import ValidationSet
from fewshot.encoders import ImagePreprocess
from fewshot.heads import DomainClassifier, dann_lambda

Log = Callable[[str], None]


@dataclass
class Setup:
    """A run's parts (see the module docstring); ``info`` is reported in the summary."""

    config: TrainConfig
    trunk: Trunk
    tasks: list[Task]
    train: dict[str, Activations]
    validation: list[ValidationSet]
    heads: nn.ModuleDict
    learner: EpisodeLearner
    domain: DomainClassifier | None = None
    target: Activations | None = None
    target_size: int = 0
    info: dict[str, Any] = field(default_factory=dict)

    def autocast(self) -> AbstractContextManager[Any]:
        """bf16 autocast on CUDA when ``config.amp``; nothing otherwise."""
        device = next(iter(self.learner.parameters())).device
        if self.config.amp and device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return nullcontext()

    def embed(self, activation: Any) -> torch.Tensor:
        """Embeddings (B, d) in float32 of prefix activations."""
        return self.trunk.suffix(activation).float()

    def state_modules(self) -> tuple[nn.Module, nn.ModuleDict, list[str] | None]:
        """What a training state saves: the network (only its trained tensors for a
        pre-trained base), and the heads, projection and domain classifier."""
        extra = {"heads": self.heads, "projection": self.trunk.projection, "domain": self.domain}
        keys = None if self.trunk.legacy is not None else self.trunk.plan.tensor_names()
        return self.trunk.module, nn.ModuleDict({k: v for k, v in extra.items() if v}), keys


def _recipe(config: TrainConfig, trunk: Trunk, feeder: Feeder, sample: np.ndarray, log: Log) -> str:
    if trunk.kind == "text":
        if config.augment in ("affine", "natural"):
            log(f"augment={config.augment} applies to images; texts are not augmented")
        return "none"
    if config.augment != "auto":
        return str(config.augment)
    assert isinstance(feeder, ImageFeeder)
    drawn = looks_drawn(feeder, sample)
    log(f"augmentation: {'affine (drawn, grayscale images)' if drawn else 'natural (photos)'}; "
        "--augment none turns it off")  # fmt: skip
    return "affine" if drawn else "natural"


def resolve_lr(config: TrainConfig, trunk: Trunk) -> float:
    """``config.lr``, else 1e-4 when layers of a pre-trained text transformer learn and 1e-3
    otherwise (image blocks, Conv-4 / ResNet-12, a projection alone). Measured on 30 episodes
    of a held-out class split (5-way 1-shot, cosine): MiniLM's last layer reached 92.60% at
    1e-4 and fell to 87.80% at 1e-3 (frozen 90.47%); EfficientNet-Lite0's last block reached
    62.40% at 1e-3 and 50.47% at 1e-4 (frozen 48.47%)."""
    if config.lr is not None:
        return config.lr
    text_layers = trunk.kind == "text" and trunk.pretrained and trunk.projection is None
    return 1e-4 if text_layers else 1e-3


def resolve_metric(config: TrainConfig, trunk: Trunk) -> str:
    """``config.metric``, else cosine (with a learnable scale) for a pre-trained ``--init`` and
    euclidean for Conv-4 / ResNet-12 (Snell et al.'s choice). Pre-trained encoders such as
    MiniLM end in unit vectors, where squared distances stay within [0, 4]: the loss can never
    separate classes enough and bends the network; on BANKING77, 75 episodes of MiniLM's last 2
    layers took validation from 87.2% to 84.2% with euclidean and to 93.2% with cosine."""
    if config.metric is not None:
        return config.metric
    return "cosine" if trunk.pretrained else "euclidean"


def prepare(
    config: TrainConfig, device: torch.device, log: Log, progress: bool | None = None
) -> tuple[Setup, TrainConfig]:
    """Build a run's parts; returns them and the config with its image size and learning rate
    resolved."""
    trunk = build_trunk(config, device)
    config = replace(config, image_size=trunk.image_size, lr=resolve_lr(config, trunk),
                     metric=resolve_metric(config, trunk))  # fmt: skip
    mode = trunk.preprocess.mode if isinstance(trunk.preprocess, ImagePreprocess) else "RGB"
    tasks = load_tasks(config, mode, log)
    options = FeedOptions(device, "none", config.memory_mb * 2**20, config.channels_last,
                          config.batch_size, progress, log)  # fmt: skip
    feeders: dict[int, Feeder] = {}
    needed: dict[int, list[np.ndarray]] = {}
    for task in tasks:
        for source in (task.training, task.validation):
            needed.setdefault(id(source.dataset), []).append(source.positions)
    datasets = {id(s.dataset): s.dataset for t in tasks for s in (t.training, t.validation)}
    owner = {id(s.dataset): t.name for t in reversed(tasks) for s in (t.validation, t.training)}
    for key, dataset in datasets.items():
        feeders[key] = make_feeder(dataset, np.concatenate(needed[key]), trunk.kind,
                                   trunk.preprocess, options, owner[key])  # fmt: skip
    first = tasks[0].training
    recipe = _recipe(config, trunk, feeders[id(first.dataset)], first.positions, log)
    for feeder in feeders.values():
        if isinstance(feeder, ImageFeeder):
            feeder.recipe = recipe
    cached = bool(trunk.plan.frozen) and recipe == "none"
    if trunk.plan.frozen:
        log(f"frozen blocks {trunk.plan.frozen[0].name} … {trunk.plan.frozen[-1].name}: "
            + ("their output is cached, computed once per item on first use" if cached else
               "recomputed every episode (augmentation is on below them; --augment none "
               "caches them)"))  # fmt: skip
    activations: dict[int, Activations] = {}
    for key, feeder in feeders.items():
        cache = None
        if cached:
            cache = PrefixCache(np.concatenate(needed[key]), len(datasets[key]),
                                config.cache_mb * 2**20, log, owner[key],
                                config.batch_size, config.channels_last)  # fmt: skip
        activations[key] = Activations(feeder, trunk.plan, cache)
    assert config.metric is not None  # resolved above
    heads = make_heads(config.head, config.metric, trunk.dim, [t.key for t in tasks])
    domain = target = None
    target_size = 0
    if config.target_data:
        data = load_target(config, trunk.kind, mode)
        feeder = make_feeder(data, np.arange(len(data)), trunk.kind, trunk.preprocess,
                             replace(options, recipe=recipe), "target")  # fmt: skip
        cache = PrefixCache(np.arange(len(data)), len(data), config.cache_mb * 2**20, log,
                            "target", config.batch_size, config.channels_last) if cached else None  # fmt: skip
        target, target_size = Activations(feeder, trunk.plan, cache), len(data)
        domain = DomainClassifier(trunk.dim)
    setup = Setup(config, trunk, tasks, {}, [], heads, None, domain, target, target_size)  # type: ignore[arg-type]
    setup.train = {t.key: activations[id(t.training.dataset)] for t in tasks}
    setup.validation = [ValidationSet(t, activations[id(t.validation.dataset)]) for t in tasks]
    setup.learner = EpisodeLearner(trunk.module, setup.embed, heads, trunk.projection, domain,
                                   config.dann_weight).to(device)  # fmt: skip
    setup.info = {"augment": recipe, "cached_prefix": cached, "trunk": trunk.describe(),
                  "head": config.head, "dann": config.target_data is not None,
                  "tasks": [{"name": t.name, **t.info} for t in tasks]}  # fmt: skip
    return setup, config


def task_of(setup: Setup, i: int) -> Task:
    """The task episode ``i`` is drawn from: round-robin, or seeded in proportion to the
    tasks' training classes."""
    tasks = setup.tasks
    if len(tasks) == 1:
        return tasks[0]
    if setup.config.task_sampling == "round-robin":
        return tasks[i % len(tasks)]
    sizes = np.array([t.training.sampler.n_classes for t in tasks], dtype=float)
    rng = np.random.default_rng([setup.config.seed, 4, i])
    return tasks[int(rng.choice(len(tasks), p=sizes / sizes.sum()))]


def training_episode(setup: Setup, i: int, device: torch.device) -> TrainingEpisode:
    """Training episode ``i`` ready for ``EpisodeLearner`` (see the module docstring)."""
    config = setup.config
    task = task_of(setup, i)
    source = task.training
    ep = source.sampler[i]
    s_idx, q_idx = source.positions[ep.support.ravel()], source.positions[ep.query.ravel()]
    augmenting = setup.info["augment"] != "none"
    gen = torch.Generator().manual_seed(config.seed * 1_000_003 + i) if augmenting else None
    x = setup.train[task.key](np.concatenate([s_idx, q_idx]), gen)
    episode = TrainingEpisode(
        x, len(s_idx), torch.as_tensor(ep.support_labels(), device=device),
        torch.as_tensor(ep.query_labels(), device=device), task.key,
        seed=(config.seed * 1_000_003 + i) ^ 0x5EED,
    )  # fmt: skip
    if config.head == "siamese":
        episode.pairs = siamese_pairs(ep, np.random.default_rng([config.seed, 3, i]), device)
    if setup.target is not None:
        rng = np.random.default_rng([config.seed, 5, i])
        size = min(setup.target_size, len(s_idx) + len(q_idx))
        picks = np.sort(rng.choice(setup.target_size, size, replace=False))
        tgen = torch.Generator().manual_seed(config.seed * 1_000_003 + i + 2**40) if gen else None
        episode.target = setup.target(picks, tgen)
        episode.lam = dann_lambda(i / max(1, config.episodes - 1))
    return episode
