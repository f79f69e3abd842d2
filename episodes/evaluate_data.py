"""``evaluate_data``: score any encoder on any labelled data, the function behind
``fewshot evaluate --data``.

Data: an image folder, a CSV/JSON file of text rows, ``omniglot``, ``clinc150``, ``banking77``
(``fewshot.data.load_dataset``), optionally cut to one side of a class split (``classes``
file or seeded ``split_fractions``) so that only classes never trained on are scored.
Encoder: a name, a checkpoint folder (a ``fewshot train`` run's ``RUN/best``), an ``Encoder``,
or ``"pixels"`` for images. Head: prototypes, or a trained siamese head. The steps are public
(``prepare_data``, ``prepare_encoder``, ``prepare_head``) so a caller scoring several settings
loads each once.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from episodes.config import EVALUATION
from episodes.evaluate import embed_indices, pixel_encoder
from episodes.head_files import load_head
from episodes.protocols import score_setting
from fewshot.data import ClassSplits, FewShotDataset, Omniglot, load_dataset
from fewshot.data.load import NAMED_SPLITS
from fewshot.encoders import Encoder, load_encoder
from fewshot.errors import InputError
from fewshot.heads import PrototypicalHead

#: The split of each named dataset scored when none is named.
EVALUATION_SPLITS = {"omniglot": EVALUATION.split, "clinc150": EVALUATION.text_split,
                     "banking77": EVALUATION.text_split}  # fmt: skip
FIT_ITEMS = 4000  # base-class items whose mean feature CL2N subtracts


def prepare_data(
    data: str | os.PathLike[str] | FewShotDataset, split: str | None = None, *,
    classes: str | os.PathLike[str] | ClassSplits | None = None,
    split_fractions: Sequence[float] | None = None, split_seed: int = 0,
    split_by_group: bool = False, class_split: str = EVALUATION.class_split,
    image_size: int | None = None, **options: Any,
) -> tuple[FewShotDataset, FewShotDataset | None, dict[str, Any]]:  # fmt: skip
    """``(scored, base, fields)``: the dataset to score, the base classes' part when a class
    split is given (for CL2N's mean; else None), and the report fields describing them.

    ``split``: the named dataset's split (default: its evaluation split, ``evaluation`` or
    ``test``) or a JSON file's section; ``"name:split"`` in ``data`` also names it. With
    ``classes`` or ``split_fractions`` the classes of ``class_split`` are kept (base, val or
    novel); ``split_by_group`` keeps whole groups (alphabets, domains) on one side.
    ``options`` go to ``load_dataset``.
    """
    text = "" if isinstance(data, FewShotDataset) else os.fspath(data)
    name = "" if Path(text).exists() else text.lower().partition(":")[0]
    if name in NAMED_SPLITS:
        split = split or EVALUATION_SPLITS[name]
        if name == "omniglot" and image_size is None:
            image_size = EVALUATION.image_size
    dataset = load_dataset(data, split, image_size=image_size, **options)
    fields: dict[str, Any] = {"data": dataset.describe(), "split": split,
                              "image_size": image_size}  # fmt: skip
    if classes is None and split_fractions is None:
        return dataset, None, fields
    if classes is not None and split_fractions is not None:
        raise InputError("give either a classes file or split fractions, not both")
    if isinstance(classes, ClassSplits):
        splits = classes
    elif classes is not None:
        splits = ClassSplits.from_file(classes)
    else:
        groups = dataset.class_groups if split_by_group else None
        if split_by_group and groups is None:
            raise InputError("split_by_group needs class groups, which this data does not have")
        assert split_fractions is not None
        splits = ClassSplits.from_fractions(
            dataset.class_names, split_fractions, split_seed, groups
        )
    splits.check(dataset)
    scored = splits.subset(dataset, class_split)
    base = splits.subset(dataset, "base") if splits.base else None
    fields |= {"class_split": class_split, "class_splits": splits.describe()}
    return scored, base, fields


def prepare_encoder(
    encoder: str | os.PathLike[str] | Encoder, dataset: FewShotDataset,
    image_size: int | None = None, device: str | None = None,
) -> Encoder:  # fmt: skip
    """An ``Encoder``: as given, ``"pixels"`` (images only: gray pixels at ``image_size``,
    default 28), or a name / checkpoint folder for ``load_encoder``."""
    if isinstance(encoder, Encoder):
        return encoder
    if os.fspath(encoder) == "pixels":
        if dataset.kind != "image":
            raise InputError("--encoder pixels reads images; for text pass e.g. --encoder minilm")
        return pixel_encoder(image_size or 28)
    return load_encoder(encoder, device=device) if device else load_encoder(encoder)


def prepare_head(
    head: str | nn.Module = EVALUATION.head, metric: str = EVALUATION.metric,
    encoder: str | os.PathLike[str] | Encoder | None = None,
    head_weights: str | os.PathLike[str] | None = None,
) -> nn.Module:  # fmt: skip
    """``"prototypical"`` (prototypes under ``metric``, fixed scale) or ``"siamese"`` (the
    trained head in ``head_weights``, else beside a checkpoint-folder ``encoder``)."""
    if isinstance(head, nn.Module):
        return head
    if head == "prototypical":
        return PrototypicalHead(metric, learn_scale=False)
    if head != "siamese":
        raise InputError(f"head must be prototypical or siamese, got {head!r}")
    if head_weights is None and isinstance(encoder, (str, os.PathLike)) and Path(encoder).is_dir():
        head_weights = encoder
    if head_weights is None:
        raise InputError(
            "--head siamese scores with a trained siamese head: pass --head-weights FILE, or an "
            "encoder folder holding head.safetensors"
        )
    return load_head(head_weights)


def base_features(
    encoder: Encoder, base: FewShotDataset, seed: int, batch_size: int = EVALUATION.batch_size
) -> np.ndarray:
    """Embeddings of up to ``FIT_ITEMS`` seeded base-class items (CL2N's mean, never novel)."""
    pick = np.random.default_rng(seed).choice(len(base), min(FIT_ITEMS, len(base)), False)
    return embed_indices(encoder, base, np.sort(pick), batch_size)


def omniglot_base(dataset: FewShotDataset, cl2n_split: str, download: bool = False) -> Omniglot:
    """The Omniglot split CL2N fits on when no class split is given (``--cl2n-split``)."""
    if not isinstance(dataset, Omniglot):
        raise InputError(
            "transform cl2n needs base-class data: give a class split (--classes or "
            "--split-fractions) so the base classes' mean is used"
        )
    return Omniglot(dataset.root, cl2n_split, image_size=dataset.image_size, download=download)


def evaluate_data(
    data: str | os.PathLike[str] | FewShotDataset,
    encoder: str | os.PathLike[str] | Encoder,
    *,
    n_way: int = EVALUATION.n_way, k_shot: int = EVALUATION.k_shot,
    q_query: int = EVALUATION.q_query, n_episodes: int = EVALUATION.n_episodes,
    seed: int = EVALUATION.seed, within_group: bool = False,
    protocol: str = EVALUATION.protocol, head: str | nn.Module = EVALUATION.head,
    metric: str = EVALUATION.metric, head_weights: str | os.PathLike[str] | None = None,
    siamese_reduce: str = EVALUATION.siamese_reduce,
    transductive: str = EVALUATION.transductive, transform: str = EVALUATION.transform,
    manifest: str | os.PathLike[str] | None = None, batch_size: int = EVALUATION.batch_size,
    device: str | None = None, **data_options: Any,
) -> dict[str, Any]:  # fmt: skip
    """Score ``encoder`` on ``n_episodes`` seeded episodes of ``data``: the report of
    ``episodes.evaluate.evaluate`` (``report["accuracy"]["mean"]``, ``["ci95"]``...).

    ``data_options`` go to ``prepare_data`` (``split``, ``classes``, ``split_fractions``,
    ``split_seed``, ``split_by_group``, ``class_split``, ``image_size``, ``root``,
    ``text_column``, ``label_column``...). ``transform="cl2n"`` centres on base-class features
    (a class split's base side, or Omniglot's background split).

    Example:
        >>> report = evaluate_data("photos/", "efficientnet-lite0", n_way=5, k_shot=1,
        ...                        q_query=5, n_episodes=60)
        >>> report["accuracy"]["mean"]
    """
    dataset, base, fields = prepare_data(data, **data_options)
    enc = prepare_encoder(encoder, dataset, fields["image_size"], device)
    scorer_head = prepare_head(head, metric, encoder, head_weights)
    fit = None
    if transform == "cl2n":
        base = base if base is not None else omniglot_base(dataset, EVALUATION.cl2n_split)
        fit = base_features(enc, base, seed, batch_size)
    report = score_setting(
        enc, dataset, fields["split"], fields["image_size"], n_way, k_shot, q_query, n_episodes,
        seed, within_group, head=scorer_head, transform=transform, fit_features=fit,
        manifest=manifest, batch_size=batch_size, protocol=protocol,
        transductive=transductive, siamese_reduce=siamese_reduce,
    )  # fmt: skip
    report["protocol"].update({k: v for k, v in fields.items() if k not in ("split", "image_size")})
    return report
