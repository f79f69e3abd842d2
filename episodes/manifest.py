"""Episode manifests: a versioned JSON file that fixes a list of episodes on disk.

Two methods scored on one manifest see identical tasks. The file holds ``format``
(``"fewshot.episodes"``), ``version``, the ``protocol`` that drew the episodes (ways, shots,
queries, seed, ...), a description of the ``dataset``, and per episode its ``classes`` by name,
their ``labels`` and the ``support`` (N, K) / ``query`` (N, Q) dataset indices.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from episodes.sampler import Episode, EpisodeSampler
from fewshot.errors import InputError, StoreFormatError

MANIFEST_FORMAT = "fewshot.episodes"
MANIFEST_VERSION = 1


def save_manifest(
    episodes: Sequence[Episode] | EpisodeSampler | Any,
    path: str | os.PathLike,
    class_names: Sequence[str],
    protocol: dict[str, Any] | None = None,
    dataset: dict[str, Any] | None = None,
) -> None:
    """Write episodes to a versioned JSON manifest atomically.

    Classes are stored by name and examples by dataset index, so a manifest read back against
    a different dataset fails loudly instead of scoring other tasks.
    """
    if isinstance(episodes, EpisodeSampler) or hasattr(episodes, "protocol"):
        protocol = {**episodes.protocol(), **(protocol or {})}  # a sampler or LakeRuns
    eps = list(episodes)
    doc = {
        "format": MANIFEST_FORMAT,
        "version": MANIFEST_VERSION,
        "protocol": protocol or {},
        "dataset": dataset or {},
        "episodes": [
            {
                "classes": [class_names[c] for c in ep.classes],
                "labels": ep.classes.tolist(),
                "support": ep.support.tolist(),
                "query": ep.query.tolist(),
            }
            for ep in eps
        ],
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".json.part")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(doc, f, separators=(",", ":"))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load_manifest(
    path: str | os.PathLike, class_names: Sequence[str] | None = None
) -> tuple[list[Episode], dict[str, Any]]:
    """Read a manifest: ``(episodes, header)`` with header holding protocol and dataset.

    With ``class_names`` (the dataset's), each episode's classes are checked by name.
    """
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(doc, dict) or doc.get("format") != MANIFEST_FORMAT:
        raise StoreFormatError(
            f"{path} is not a fewshot episode manifest (format {MANIFEST_FORMAT!r}); pass a file "
            "written by save_manifest or `fewshot evaluate --manifest`"
        )
    if doc.get("version") != MANIFEST_VERSION:
        raise StoreFormatError(
            f"{path}: manifest version {doc.get('version')!r} is not supported "
            f"(this fewshot reads version {MANIFEST_VERSION}); upgrade fewshot"
        )
    episodes = []
    for i, raw in enumerate(doc["episodes"]):
        labels = np.asarray(raw["labels"], dtype=np.int64)
        if class_names is not None:
            got = [class_names[c] if 0 <= c < len(class_names) else None for c in labels]
            if got != raw["classes"]:
                raise InputError(
                    f"{path}: episode {i} names classes {raw['classes'][:3]}... but the dataset "
                    f"has {got[:3]}... at those labels; it was made for another dataset or split, "
                    "so pass that dataset's `class_names`, or write a new manifest"
                )
        episodes.append(
            Episode(
                labels,
                np.asarray(raw["support"], dtype=np.int64),
                np.asarray(raw["query"], dtype=np.int64),
            )
        )
    header = {k: v for k, v in doc.items() if k != "episodes"}
    return episodes, header
