"""The settings of a training run (``TrainConfig``) and of an evaluation, with their defaults.

These dataclasses are the one source of defaults: ``fewshot train`` / ``fewshot evaluate``
(``episodes.cli``) take every ``default=`` from them, and ``episodes.protocols.score_setting``
takes its evaluation defaults from ``EVALUATION``. Settings that contradict each other are
refused when the config is made, before any data is read.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from typing import Any

from fewshot.errors import InputError
from fewshot.metrics import get_metric


@dataclass
class TrainConfig:
    """Everything that defines a training run; stored beside its checkpoints.

    Episodes: ``n_way`` classes, ``k_shot`` support and ``q_query`` query images per class;
    ``within_alphabet`` is the fraction of training episodes whose classes all come from one
    alphabet. ``metric`` is a ``fewshot.metrics`` name (``"sqeuclidean"`` is stored as
    ``"euclidean"``). The learning rate is multiplied by ``lr_gamma`` every ``lr_step`` episodes.

    Validation, in this order of precedence: ``val_split`` (another split); ``val_alphabets``
    (the last N alphabets of ``split`` in alphabetical order, unrotated, never trained on: the
    selection signal for new alphabets); else ``holdout_drawers`` (the last drawers of every
    training class: new drawings of known characters; no evaluation alphabet is ever read).

    Data (``episodes.tasks``): ``data`` lists the labelled sources, one task each (None: the
    Omniglot ``split`` above); a folder, a CSV/JSON of text rows (``text_column``,
    ``label_column``, ``group_column``) or ``omniglot`` / ``clinc150`` / ``banking77``. A class
    split (``classes`` file, or seeded ``split_fractions``, ``split_by_group``) trains on base
    and validates on val classes; without one, ``holdout_fraction`` of every class's examples
    (or of its sources, or a named dataset's own val split) are validated on. Several tasks are
    drawn ``task_sampling`` (``round-robin`` or ``proportional`` to their classes).

    Transfer: ``init`` starts from any ``fewshot.load_encoder`` source instead of ``backbone``;
    ``train_blocks`` (N, ``"all"`` or 0) trains its last N blocks (``episodes.trunk``), 0 only
    a linear projection on its frozen features; ``freeze_stages`` (freeze the first N) and
    ``projection`` (freeze all, project to that many dimensions) are the older spellings.
    ``image_size``: None is 28 for Conv-4 / ResNet-12 and the encoder's own size otherwise.
    ``augment``: ``auto`` (affine for drawn, grayscale data; ``natural`` crops and flips for
    photos), ``affine``, ``natural`` or ``none`` (then the frozen prefix is cached, within
    ``cache_mb``); True / False are ``auto`` / ``none``. ``memory_mb``: decoded images kept
    resident on the device (more are decoded per episode through a bounded cache).

    Heads: ``head`` is ``prototypical`` (``metric``; cosine has a learnable scale) or
    ``siamese`` (balanced same/different pairs from each episode). Domain adaptation:
    ``target_data`` (unlabelled inputs of the target domain) adds DANN's domain loss, times
    ``dann_weight``.

    Stopping: ``max_minutes`` (wall clock) or ``stop_at`` (an episode) end the run early, with
    a validation, while the learning-rate schedule still follows ``episodes``.

    Machine: ``device`` is ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"`` or
    ``"cuda:N"``; ``threads`` sets torch's CPU thread count for the whole process (None:
    torch's choice); ``amp`` is bf16 autocast on CUDA; ``cache_dir`` holds decoded images.
    """

    data_root: str
    out: str
    split: str = "background"
    val_split: str | None = None
    image_size: int | None = None
    rotations: bool = True
    backbone: str = "conv4"
    backbone_kwargs: dict[str, Any] = field(default_factory=dict)
    metric: str | None = None  # None: cosine for a pre-trained --init, else euclidean
    n_way: int = 60
    k_shot: int = 1
    q_query: int = 5
    episodes: int = 10000
    episodes_per_step: int = 1
    lr: float | None = None  # None: 1e-4 for layers of a pre-trained text encoder, else 1e-3
    lr_step: int = 2000
    lr_gamma: float = 0.5
    weight_decay: float = 0.0
    within_alphabet: float = 0.0
    augment: bool | str = "auto"
    holdout_drawers: int = 4
    val_alphabets: int = 0
    val_way: int = 20
    val_shot: int = 1
    val_query: int = 3
    val_episodes: int = 200
    val_every: int = 500
    val_within_alphabet: bool = True
    seed: int = 0
    device: str = "auto"
    amp: bool = True
    channels_last: bool = True
    threads: int | None = None
    max_minutes: float | None = None
    stop_at: int | None = None
    cache_dir: str | None = None
    alphabets: list[str] | None = None
    download: bool = False
    init: str | None = None
    freeze_stages: int = 0
    projection: int | None = None
    data: list[str] | None = None
    text_column: str = "text"
    label_column: str = "label"
    group_column: str | None = None
    classes: str | None = None
    split_fractions: list[float] | None = None
    split_seed: int = 0
    split_by_group: bool = False
    holdout_fraction: float = 0.2
    train_blocks: int | str | None = None
    head: str = "prototypical"
    target_data: str | None = None
    dann_weight: float = 1.0
    task_sampling: str = "round-robin"
    memory_mb: int = 1024
    cache_mb: int = 2048
    batch_size: int = 64

    def __post_init__(self) -> None:
        if self.metric is not None:
            self.metric = get_metric(self.metric).name
        check_transfer_fields(self)
        if not self.val_split and self.val_alphabets < 0:
            raise InputError(
                f"train: val_alphabets (--val-alphabets) must be >= 0, got {self.val_alphabets}; "
                "use 0 to validate on held-out drawers instead"
            )
        if not self.val_split and self.val_alphabets and self.split.startswith("vinyals"):
            raise InputError(
                "train: val_alphabets (--val-alphabets) holds out alphabets of the background "
                f"split, not of {self.split!r}; the Vinyals splits validate on val_split "
                "(--val-split vinyals-val)"
            )
        if not self.val_split and not self.val_alphabets and not 0 < self.holdout_drawers < 20:
            raise InputError(
                f"train: holdout_drawers (--holdout-drawers) must be in 1..19 when validating on "
                f"held-out drawers, got {self.holdout_drawers}; or set val_split / val_alphabets"
            )
        if self.episodes_per_step < 1:
            raise InputError(
                f"train: episodes_per_step (--episodes-per-step) must be >= 1, got "
                f"{self.episodes_per_step}"
            )
        if self.projection and self.freeze_stages:
            raise InputError(
                "train: projection (--projection) freezes the whole encoder and trains only the "
                "projection; drop `freeze_stages` (--freeze-stages)"
            )


AUGMENTATIONS = ("auto", "affine", "natural", "none")
HEADS = ("prototypical", "siamese")
TASK_SAMPLING = ("round-robin", "proportional")


def check_transfer_fields(config: TrainConfig) -> None:
    """Normalise and check the data, transfer and head settings (see ``TrainConfig``)."""
    if isinstance(config.augment, bool):  # the older switch: --no-augment
        config.augment = "auto" if config.augment else "none"
    if isinstance(config.train_blocks, str) and config.train_blocks.strip().isdigit():
        config.train_blocks = int(config.train_blocks)
    choices = (("augment", AUGMENTATIONS), ("head", HEADS), ("task_sampling", TASK_SAMPLING))
    for name, allowed in choices:
        if getattr(config, name) not in allowed:
            flag = "--" + name.replace("_", "-")
            raise InputError(
                f"train: {name} ({flag}) must be one of {', '.join(allowed)}, got "
                f"{getattr(config, name)!r}"
            )
    if config.train_blocks is not None and config.freeze_stages:
        raise InputError(
            "train: train_blocks (--train-blocks) and freeze_stages (--freeze-stages) both say "
            "which blocks learn; keep one of them"
        )
    if config.projection and config.train_blocks not in (None, 0):
        raise InputError(
            "train: projection (--projection) trains only a projection on frozen features, "
            f"which is --train-blocks 0, not {config.train_blocks!r}; drop one of them"
        )
    if config.classes is not None and config.split_fractions is not None:
        raise InputError(
            "train: give either a classes file (--classes) or split fractions "
            "(--split-fractions), not both"
        )
    if (config.classes or config.split_fractions) and not config.data:
        raise InputError(
            "train: a class split (--classes / --split-fractions) needs the data it splits: "
            "pass --data PATH_OR_NAME (e.g. --data omniglot)"
        )
    if not 0.0 < config.holdout_fraction < 1.0:
        raise InputError(
            f"train: holdout_fraction (--holdout-fraction) must be in (0, 1), got "
            f"{config.holdout_fraction}"
        )
    for name in ("memory_mb", "cache_mb", "batch_size"):
        if getattr(config, name) < (1 if name == "batch_size" else 0):
            raise InputError(f"train: {name} (--{name.replace('_', '-')}) must be positive")
    if config.data is not None and not config.data:
        raise InputError("train: data (--data) lists no source; pass at least one")


@dataclass(frozen=True)
class EvaluationDefaults:
    """Defaults of one evaluation setting, shared by ``fewshot evaluate``, ``score_setting`` and
    ``evaluate_data``: ``n_way``-way ``k_shot``-shot episodes with ``q_query`` queries per
    class, ``n_episodes`` of them drawn with ``seed``, scored by ``head`` (nearest prototype
    under ``metric``, or siamese pair probabilities reduced per class by ``siamese_reduce``)
    after the feature map ``transform`` and the ``transductive`` step, items embedded
    ``batch_size`` at a time.

    ``protocol``: ``random`` (random-drawer episodes) or ``lake`` (Lake et al.'s 20-way
    drawer-pair runs on Omniglot's evaluation alphabets, ``lake_runs`` of them). Omniglot is
    read from ``split`` at ``image_size``; ``text_split`` is the split of CLINC150 / BANKING77
    scored by default; ``class_split`` the side of a class split (``--classes``) scored."""

    split: str = "evaluation"
    image_size: int = 105
    n_way: int = 20
    k_shot: int = 1
    q_query: int = 15
    n_episodes: int = 1000
    seed: int = 0
    metric: str = "euclidean"
    transform: str = "identity"
    cl2n_split: str = "background"
    batch_size: int = 512
    head: str = "prototypical"
    siamese_reduce: str = "mean"
    transductive: str = "none"
    protocol: str = "random"
    lake_runs: int = 400
    text_split: str = "test"
    class_split: str = "novel"


EVALUATION = EvaluationDefaults()


def train_defaults() -> dict[str, Any]:
    """``{field: default}`` of every ``TrainConfig`` field that has one."""
    defaults = {}
    for f in fields(TrainConfig):
        if f.default is not MISSING:
            defaults[f.name] = f.default
        elif f.default_factory is not MISSING:
            defaults[f.name] = f.default_factory()
    return defaults
