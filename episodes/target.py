"""Unlabelled target-domain inputs for DANN (``--target-data``): whatever the user has.

Images: a folder of images, flat or in sub-folders (any sub-folders are ignored as labels);
texts: a ``.txt`` file (one text per line), a CSV/JSON of rows with a text column (a label
column is not needed), or a named dataset (``clinc150:test``, ``banking77``). Labels are never
read; the items only teach the domain classifier what the target domain looks like.
"""

from __future__ import annotations

import csv
from pathlib import Path

from episodes.config import TrainConfig
from episodes.tasks import data_root, named
from fewshot.data import FewShotDataset, load_dataset
from fewshot.data.image_folder import IMAGE_SUFFIXES
from fewshot.errors import InputError


def load_target(config: TrainConfig, kind: str, mode: str) -> FewShotDataset:
    """``config.target_data`` as unlabelled items (all of class ``target``); data of another
    kind than the network reads (``kind``) is refused naming the fix."""
    spec = str(config.target_data)
    path = Path(spec).expanduser()
    name, split = named(spec)
    if path.is_dir():
        files = sorted(
            str(p) for p in path.rglob("*")
            if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
            and not any(part.startswith(".") for part in p.relative_to(path).parts)
        )  # fmt: skip
        if not files:
            raise InputError(f"--target-data {spec}: no images ({', '.join(IMAGE_SUFFIXES)}) in it")
        data = _unlabelled(files, "image", spec)
    elif path.suffix.lower() == ".txt" and path.is_file():
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        if not lines:
            raise InputError(f"--target-data {spec} holds no text lines")
        data = _unlabelled(lines, "text", spec)
    elif path.suffix.lower() == ".csv" and path.is_file():
        data = _unlabelled(_csv_texts(path, config.text_column), "text", spec)
    elif name or path.suffix.lower() == ".json":
        root = data_root(config, name) if name else None
        data = load_dataset(spec, None if name else split, root=root, mode=mode,
                            text_column=config.text_column, label_column=config.label_column)  # fmt: skip
    else:
        raise InputError(
            f"--target-data {spec!r} is not an image folder, a .txt/.csv/.json file of texts, "
            "or a dataset name; pass unlabelled inputs of the target domain"
        )
    if data.kind != kind:
        raise InputError(
            f"--target-data {spec} holds {data.kind}s but the network reads {kind}s; pass "
            f"unlabelled {kind}s of the target domain (the same kind of input as --data)"
        )
    return data


def _unlabelled(items: list[str], kind: str, spec: str) -> FewShotDataset:
    return FewShotDataset(items, [0] * len(items), ["target"], kind=kind,
                          info={"dataset": "target", "path": Path(spec).name})  # fmt: skip


def _csv_texts(path: Path, column: str) -> list[str]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        if column not in (reader.fieldnames or []):
            raise InputError(
                f"--target-data {path} has no column {column!r} (columns: "
                f"{reader.fieldnames}); name the text column with --text-column"
            )
        texts = [row[column] for row in reader if (row.get(column) or "").strip()]
    if not texts:
        raise InputError(f"--target-data {path} holds no texts in column {column!r}")
    return texts
