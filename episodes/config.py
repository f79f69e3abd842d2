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

    Transfer: ``init`` starts from a trained encoder (shipped name or checkpoint folder) instead
    of ``backbone``; ``freeze_stages`` freezes its first blocks; ``projection`` freezes all of it
    and trains only a linear projection to that many dimensions (see ``episodes.transfer``).

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
    image_size: int = 28
    rotations: bool = True
    backbone: str = "conv4"
    backbone_kwargs: dict[str, Any] = field(default_factory=dict)
    metric: str = "euclidean"
    n_way: int = 60
    k_shot: int = 1
    q_query: int = 5
    episodes: int = 10000
    episodes_per_step: int = 1
    lr: float = 1e-3
    lr_step: int = 2000
    lr_gamma: float = 0.5
    weight_decay: float = 0.0
    within_alphabet: float = 0.0
    augment: bool = True
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

    def __post_init__(self) -> None:
        self.metric = get_metric(self.metric).name
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
