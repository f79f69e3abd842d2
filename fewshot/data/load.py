"""``load_dataset``: any labelled data as one ``FewShotDataset``, from a path or a name.

``spec`` is an image folder (one sub-folder per class), a ``.csv`` / ``.json`` file of text
rows, or a named dataset: ``omniglot`` (splits ``background``, ``evaluation``,
``vinyals-{train,val,trainval,test}``), ``clinc150`` (``train``, ``val``, ``test``; in-scope
intents, grouped by domain) or ``banking77`` (``train``, ``test``). A name may carry its split
after a colon: ``"clinc150:test"``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from fewshot.data.dataset import FewShotDataset
from fewshot.data.image_cache import DEFAULT_MAX_BYTES
from fewshot.data.image_folder import ImageFolderDataset
from fewshot.data.intents import load_banking77, load_clinc150
from fewshot.data.labelled import LabelledData
from fewshot.data.omniglot import SPLITS as OMNIGLOT_SPLITS
from fewshot.data.omniglot import Omniglot
from fewshot.data.sources import DatasetError, DatasetNotFoundError, data_root
from fewshot.data.text_rows import TEXT_SUFFIXES, load_text_rows

#: The named datasets, each with its splits; the first split is the default.
NAMED_SPLITS: dict[str, tuple[str, ...]] = {
    "omniglot": OMNIGLOT_SPLITS,
    "clinc150": ("train", "val", "test"),
    "banking77": ("train", "test"),
}


def load_dataset(
    spec: str | os.PathLike[str] | FewShotDataset,
    split: str | None = None,
    *,
    root: str | os.PathLike[str] | None = None,
    image_size: int | None = None,
    mode: str = "RGB",
    text_column: str = "text",
    label_column: str = "label",
    group_column: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    disk_cache: str | os.PathLike[str] | None = None,
    rotations: Sequence[int] = (0,),
    alphabets: Sequence[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    download: bool = False,
) -> FewShotDataset:
    """Load ``spec`` as a ``FewShotDataset``.

    Arguments:
        spec: a folder, a ``.csv``/``.json`` file, or ``omniglot`` / ``clinc150`` /
            ``banking77`` (optionally ``name:split``); a ``FewShotDataset`` is returned as is.
        split: the named dataset's split (default: its first, the training split), or the
            section of a JSON object file. Image folders and CSV files have none.
        root: data root of the named datasets (default ``fewshot.data.data_root()``).
        image_size, mode, max_bytes, disk_cache: image folders: decode size (Omniglot: the
            image side, default 28), ``"RGB"``/``"L"``, memory budget and on-disk cache of
            decoded images (see ``DecodeCache``).
        text_column, label_column, group_column: column (or key) names of text rows.
        rotations, alphabets, cache_dir, download: Omniglot options (see ``Omniglot``);
            ``download`` also fetches CLINC150 / BANKING77.

    Example:
        >>> load_dataset("photos/", image_size=128).class_names[:2]
        ['cat', 'dog']
        >>> load_dataset("clinc150:test").class_groups[:1]
        ['banking']
    """
    if isinstance(spec, FewShotDataset):
        return spec
    text = os.fspath(spec)
    path = Path(text).expanduser()
    if path.is_dir():
        _no_split(split, path, "an image folder")
        return ImageFolderDataset(
            path, image_size=image_size, mode=mode, max_bytes=max_bytes, disk_cache=disk_cache
        )
    if path.suffix.lower() in TEXT_SUFFIXES and path.is_file():
        if path.suffix.lower() == ".csv":
            _no_split(split, path, "a CSV file")
        return load_text_rows(
            path, text_column=text_column, label_column=label_column,
            group_column=group_column, section=split,
        )  # fmt: skip
    name, _, named_split = text.lower().partition(":")
    if name not in NAMED_SPLITS:
        raise DatasetNotFoundError(
            f"{text!r} is neither a folder, a .csv/.json file, nor a dataset name "
            f"({', '.join(NAMED_SPLITS)}); check the path"
        )
    chosen = named_split or split or NAMED_SPLITS[name][0]
    if chosen not in NAMED_SPLITS[name]:
        hint = (
            "; BANKING77 has no validation split: hold out classes instead"
            if chosen == "val"
            else ""
        )
        raise DatasetError(
            f"{name} has no split {chosen!r}; choose one of {NAMED_SPLITS[name]}{hint}"
        )
    if name == "omniglot":
        return Omniglot(
            _omniglot_folder(root, download), chosen, image_size=28 if image_size is None else image_size,
            rotations=rotations, alphabets=alphabets, download=download, cache_dir=cache_dir,
        )  # fmt: skip
    return _intents(name, chosen, root, download)


def _no_split(split: str | None, path: Path, what: str) -> None:
    if split is not None:
        raise DatasetError(
            f"{path} is {what}, which has no split {split!r}; hold out classes with "
            "ClassSplits (--classes FILE or --split-fractions) instead"
        )


def _omniglot_folder(root: str | os.PathLike[str] | None, download: bool) -> Path:
    base = data_root(root, create=download)
    return base if (base / "images_background.zip").is_file() else base / "omniglot"


def _intents(
    name: str, split: str, root: str | os.PathLike[str] | None, download: bool
) -> FewShotDataset:
    loader = load_clinc150 if name == "clinc150" else load_banking77
    data = loader(root, download=download)
    part = {"train": data.train, "val": data.val, "test": data.test}[split]
    if part is None:  # pragma: no cover - NAMED_SPLITS lists only the splits that exist
        raise DatasetError(f"{name} has no {split!r} split")
    labelled = LabelledData(part.texts, part.labels)
    domain_of = {intent: domain for domain, intents in data.domains.items() for intent in intents}
    groups = [domain_of[c] for c in labelled.class_names] if domain_of else None
    return FewShotDataset.from_labelled(
        labelled, kind="text", class_groups=groups, info={"dataset": name, "split": split}
    )
