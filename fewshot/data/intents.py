"""Intent-classification benchmarks: CLINC150 (with out-of-scope queries) and BANKING77.

Each loader reads the original upstream files from a local root, checks their counts against
the published ones (so a truncated or foreign file fails here, not as a strange accuracy), and
returns an ``IntentDataset``. Upstream URLs and SHA-256 sums are pinned for ``download=True``.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from fewshot.data.sources import (
    DatasetError,
    DatasetNotFoundError,
    RemoteFile,
    data_root,
    ensure_files,
)
from fewshot.data.text import TextSplit, check_counts, draw_k_shot, read_parallel_lines

OOS_LABEL = "oos"
"""CLINC150's label for out-of-scope queries."""

FIXED_SHOTS = (5, 10)
"""The K of the fixed few-shot subsets (jianguoz/Few-Shot-Intent-Detection, DNNC/CPFT)."""

_CLINC_RAW = (
    "https://raw.githubusercontent.com/clinc/oos-eval/828f8093932c8fe6ca7936c3d2e52903b1c523de/data"
)
_BANKING_RAW = (
    "https://raw.githubusercontent.com/PolyAI-LDN/task-specific-datasets/"
    "57ec275d8078af65b7731c2a98be812d844a6d6b/banking_data"
)
_SUBSETS_RAW = (
    "https://raw.githubusercontent.com/jianguoz/Few-Shot-Intent-Detection/"
    "fa9553312b1dba54b1be0aae2d30b13171f898e5/Datasets"
)

CLINC150_FILES = (
    RemoteFile("data_full.json", f"{_CLINC_RAW}/data_full.json",
               "36923c3705a59e08fe9c3883d8bc2dd966ef93e22cb78ac41171782a698d56e0"),
    RemoteFile("domains.json", f"{_CLINC_RAW}/domains.json",
               "b947b579d3b8e74b06f93b01083d8efaff2888b43a3e362533bd88a6e1211b3a"),
    RemoteFile("few_shot_subsets/train_5/seq.in", f"{_SUBSETS_RAW}/CLINC150/train_5/seq.in",
               "6b65a2e54d66c502c366abe03dec1f5b1987336f956b328fecdefcbe0edae3f9"),
    RemoteFile("few_shot_subsets/train_5/label", f"{_SUBSETS_RAW}/CLINC150/train_5/label",
               "a954c2aeb575ad5d6f6b1efe07155b26d97c15799c5cc991c83087825ca09967"),
    RemoteFile("few_shot_subsets/train_10/seq.in", f"{_SUBSETS_RAW}/CLINC150/train_10/seq.in",
               "f03385d063e5139723aeb94cc1014409d87aecd19bab46a301d025c2e012fa9d"),
    RemoteFile("few_shot_subsets/train_10/label", f"{_SUBSETS_RAW}/CLINC150/train_10/label",
               "5e35540a477d0d255dbc7a99b352ca276fb6cc2e52b21b3f5c26f9cec8d0d647"),
)  # fmt: skip

BANKING77_FILES = (
    RemoteFile("train.csv", f"{_BANKING_RAW}/train.csv",
               "b06e26ac675513959a63135f11b94ea7786ed02da65db93a5650d8838cbc664b"),
    RemoteFile("test.csv", f"{_BANKING_RAW}/test.csv",
               "d12d6e3bc4c3103966ae786dc435913c0c563dfa328f5a3646d0e62cfeeb474d"),
    RemoteFile("categories.json", f"{_BANKING_RAW}/categories.json",
               "53261da888122daf2d120d925458631d9619e15d82e56052e7a42e535ce32b63"),
    RemoteFile("few_shot_subsets/train_5/seq.in", f"{_SUBSETS_RAW}/BANKING77/train_5/seq.in",
               "09125b6aeb6852b07cf707c690fe23273217243ae259f49e26b0dc3f2f6d502b"),
    RemoteFile("few_shot_subsets/train_5/label", f"{_SUBSETS_RAW}/BANKING77/train_5/label",
               "e6be8a04aba7c583474bb20595e36e3fd68845121dac2840e320e6398e2de3d2"),
    RemoteFile("few_shot_subsets/train_10/seq.in", f"{_SUBSETS_RAW}/BANKING77/train_10/seq.in",
               "3b9f7eebee78ed65ccb37fbc94f1be381f59860c83a2f855c59836d2fdcc73b4"),
    RemoteFile("few_shot_subsets/train_10/label", f"{_SUBSETS_RAW}/BANKING77/train_10/label",
               "bbd4fc38a7bf95940f3d010453a7d3ed22641b0c211d76752f84c92421885b01"),
)  # fmt: skip


def _empty_mapping() -> Mapping[Any, Any]:
    return MappingProxyType({})


@dataclass(frozen=True)
class IntentDataset:
    """One intent benchmark, loaded and checked.

    Attributes:
        name: ``"clinc150"`` or ``"banking77"``.
        intents: the in-scope intent names, sorted.
        train, test: the official in-scope splits.
        val: the official validation split (CLINC150); None where there is none (BANKING77).
        few_shot: the fixed K-shot training subsets, ``{5: TextSplit, 10: TextSplit}``.
        out_of_scope: CLINC150's out-of-scope splits keyed ``"train"``, ``"val"``, ``"test"``,
            all labelled ``OOS_LABEL``; empty for BANKING77.
        domains: CLINC150's domain -> intents map; empty for BANKING77.
    """

    name: str
    intents: tuple[str, ...]
    train: TextSplit
    test: TextSplit
    val: TextSplit | None
    few_shot: Mapping[int, TextSplit]
    out_of_scope: Mapping[str, TextSplit] = field(default_factory=_empty_mapping)
    domains: Mapping[str, tuple[str, ...]] = field(default_factory=_empty_mapping)

    def k_shot(self, k: int, seed: int) -> TextSplit:
        """A seeded random K-shot draw from the full ``train`` split (see ``draw_k_shot``)."""
        return draw_k_shot(self.train, k, seed)


def load_clinc150(
    root: str | os.PathLike[str] | None = None, *, download: bool = False
) -> IntentDataset:
    """Load CLINC150 (Larson et al. 2019): 150 intents x 100/20/30 train/val/test, out-of-scope
    100/100/1000, 10 domains, and the fixed 5- and 10-shot subsets.

    Arguments:
        root: the data root holding ``clinc150/`` (or that folder itself); default as in
            ``fewshot.data.sources.data_root``.
        download: fetch missing files from the pinned upstream commits, checking SHA-256.
    """
    folder = _dataset_folder(root, "clinc150", "data_full.json", download)
    ensure_files(folder, CLINC150_FILES, download_missing=download)
    path = folder / "data_full.json"
    raw = _read_json(path)
    expected = {"train", "val", "test", "oos_train", "oos_val", "oos_test"}
    if not isinstance(raw, dict) or not expected <= set(raw):
        raise DatasetError(
            f"{path} is not CLINC150's data_full.json: expected an object with keys "
            f"{sorted(expected)}. Restore it from clinc/oos-eval data/data_full.json."
        )
    splits = {key: _pairs_to_split(raw[key], f"{path} [{key!r}]") for key in expected}
    intents = splits["train"].label_set
    check_counts(splits["train"], f"{path} ['train']", total=15000, per_label=100)
    check_counts(splits["val"], f"{path} ['val']", total=3000, labels=intents, per_label=20)
    check_counts(splits["test"], f"{path} ['test']", total=4500, labels=intents, per_label=30)
    for key, total in (("oos_train", 100), ("oos_val", 100), ("oos_test", 1000)):
        check_counts(splits[key], f"{path} [{key!r}]", total=total, labels=[OOS_LABEL])
    if len(intents) != 150 or OOS_LABEL in intents:
        raise DatasetError(
            f"{path}: train has {len(intents)} intents (oos among them: "
            f"{OOS_LABEL in intents}); CLINC150 has 150 in-scope intents."
        )
    return IntentDataset(
        name="clinc150",
        intents=intents,
        train=splits["train"],
        test=splits["test"],
        val=splits["val"],
        few_shot=_load_fixed_subsets(folder, intents),
        out_of_scope=MappingProxyType(
            {part: splits[f"oos_{part}"] for part in ("train", "val", "test")}
        ),
        domains=_load_domains(folder / "domains.json", intents),
    )


def load_banking77(
    root: str | os.PathLike[str] | None = None, *, download: bool = False
) -> IntentDataset:
    """Load BANKING77 (Casanueva et al. 2020): 77 intents, 10,003 train (imbalanced, 35 to 187
    per intent), 3,080 test (40 per intent), and the fixed 5- and 10-shot subsets.

    Arguments:
        root: the data root holding ``banking77/`` (or that folder itself); default as in
            ``fewshot.data.sources.data_root``.
        download: fetch missing files from the pinned upstream commits, checking SHA-256.
    """
    folder = _dataset_folder(root, "banking77", "train.csv", download)
    ensure_files(folder, BANKING77_FILES, download_missing=download)
    categories_path = folder / "categories.json"
    categories = _read_json(categories_path)
    if (
        not isinstance(categories, list)
        or len(categories) != 77
        or not all(isinstance(c, str) for c in categories)
        or len(set(categories)) != 77
    ):
        raise DatasetError(
            f"{categories_path} must be a JSON list of 77 distinct intent names; "
            "restore it from PolyAI-LDN/task-specific-datasets."
        )
    intents = tuple(sorted(categories))
    train = _read_banking_csv(folder / "train.csv")
    test = _read_banking_csv(folder / "test.csv")
    check_counts(train, str(folder / "train.csv"), total=10003, labels=intents, min_per_label=35)
    check_counts(test, str(folder / "test.csv"), total=3080, labels=intents, per_label=40)
    return IntentDataset(
        name="banking77",
        intents=intents,
        train=train,
        test=test,
        val=None,
        few_shot=_load_fixed_subsets(folder, intents),
    )


def _dataset_folder(
    root: str | os.PathLike[str] | None, name: str, marker: str, download: bool
) -> Path:
    """The dataset's folder: ``root/name``, or ``root`` itself when it already holds ``marker``."""
    base = data_root(root, create=download)
    if (base / marker).is_file() and not (base / name).is_dir():
        return base
    folder = base / name
    if not folder.is_dir():
        if download:
            folder.mkdir(parents=True)
        else:
            raise DatasetNotFoundError(
                f"{folder} does not exist: the data root {base} has no {name}/ folder. Put the "
                f"dataset there, pass root= naming the folder that holds {name}/, or pass "
                "download=True."
            )
    return folder


def _read_json(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DatasetError(
            f"{path} is not valid UTF-8 JSON ({err}); restore it from the source "
            "named in the dataset's SOURCES.md."
        ) from err


def _pairs_to_split(pairs: object, where: str) -> TextSplit:
    if not isinstance(pairs, list) or not all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(s, str) for s in p) for p in pairs
    ):
        raise DatasetError(
            f"{where} must be a list of [text, intent] string pairs; the file is "
            "corrupt or not CLINC150's data_full.json."
        )
    return TextSplit(tuple(p[0] for p in pairs), tuple(p[1] for p in pairs))


def _read_banking_csv(path: Path) -> TextSplit:
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            rows = list(csv.reader(handle))
    except (UnicodeDecodeError, csv.Error) as err:
        raise DatasetError(f"{path} is not a readable UTF-8 CSV ({err}).") from err
    if not rows or rows[0] != ["text", "category"]:
        raise DatasetError(
            f"{path} must start with the header 'text,category' (BANKING77's "
            f"CSV layout); found {rows[0] if rows else 'an empty file'}."
        )
    bad = next((i for i, row in enumerate(rows[1:], start=2) if len(row) != 2), None)
    if bad is not None:
        raise DatasetError(f"{path} line {bad} does not have two columns (text, category).")
    return TextSplit(tuple(r[0] for r in rows[1:]), tuple(r[1] for r in rows[1:]))


def _load_fixed_subsets(folder: Path, intents: tuple[str, ...]) -> Mapping[int, TextSplit]:
    subsets = {}
    for k in FIXED_SHOTS:
        sub = folder / "few_shot_subsets" / f"train_{k}"
        split = read_parallel_lines(sub / "seq.in", sub / "label")
        check_counts(split, str(sub), total=k * len(intents), labels=intents, per_label=k)
        subsets[k] = split
    return MappingProxyType(subsets)


def _load_domains(path: Path, intents: tuple[str, ...]) -> Mapping[str, tuple[str, ...]]:
    raw = _read_json(path)
    if not isinstance(raw, dict) or not all(
        isinstance(v, list) and all(isinstance(i, str) for i in v) for v in raw.values()
    ):
        raise DatasetError(f"{path} must map domain names to lists of intent names.")
    listed = [i for v in raw.values() for i in v]
    if len(raw) != 10 or len(listed) != 150 or set(listed) != set(intents):
        raise DatasetError(
            f"{path} must list 10 domains x 15 intents, exactly the 150 intents "
            "of data_full.json's train split; restore it from clinc/oos-eval."
        )
    return MappingProxyType({domain: tuple(v) for domain, v in raw.items()})
