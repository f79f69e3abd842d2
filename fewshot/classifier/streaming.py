"""Registrations too large for memory: (input, label) pairs or loader batches, in chunks.

A source is any iterable of ``(input, label)`` pairs, or of ``(inputs, labels)`` batches as a
``torch.utils.data.DataLoader`` yields them (inputs: a list, an array or a tensor of B items;
labels: B labels as a list, an array or a tensor). Rows are gathered into chunks of
``chunk_size``, grouped by label, embedded in one encoder pass and added; only one chunk is in
memory at a time. Each chunk is all-or-nothing; chunks added before a failing one stay, and
the error says how many rows they held.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sized
from typing import Any

import numpy as np
import torch

from fewshot.classifier.inputs import Label, check_label
from fewshot.errors import FewShotError, InputError
from fewshot.progress import progress_bar

#: Rows embedded and added at a time by default.
CHUNK_SIZE = 1024


def check_chunk_size(chunk_size: Any) -> int:
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)):
        raise InputError(f"chunk_size must be an int >= 1, got {chunk_size!r}")
    if chunk_size < 1:
        raise InputError(f"chunk_size must be an int >= 1, got {chunk_size!r}")
    return int(chunk_size)


def _is_batch(labels: Any) -> bool:
    """Whether the second element of an item holds many labels (a loader batch)."""
    if isinstance(labels, (torch.Tensor, np.ndarray)):
        return labels.ndim == 1
    return isinstance(labels, (list, tuple))


def _label_list(labels: Any) -> list[Any]:
    if isinstance(labels, (torch.Tensor, np.ndarray)):
        return labels.tolist()
    return list(labels)


def pairs(source: Iterable[Any]) -> Iterator[tuple[Any, Label]]:
    """Single ``(input, label)`` pairs from pairs or from ``(inputs, labels)`` batches."""
    if isinstance(source, (str, bytes, np.ndarray, torch.Tensor)):
        raise InputError(
            "register_many takes a mapping {label: examples}, or an iterable of (input, label) "
            f"pairs or (inputs, labels) batches; got {type(source).__name__}"
        )
    try:
        iterator = iter(source)
    except TypeError as exc:
        raise InputError(
            "register_many takes a mapping {label: examples}, or an iterable of (input, label) "
            f"pairs or (inputs, labels) batches; got {type(source).__name__}"
        ) from exc
    for position, item in enumerate(iterator):
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise InputError(
                f"item {position} of the stream is not an (input, label) pair or an (inputs, "
                f"labels) batch: got {type(item).__name__}"
            )
        inputs, labels = item
        if isinstance(labels, (torch.Tensor, np.ndarray)) and labels.ndim == 0:
            labels = labels.item()
        if not _is_batch(labels):
            if isinstance(labels, (torch.Tensor, np.ndarray)):
                raise InputError(
                    f"item {position}: labels of shape {tuple(labels.shape)}; register_many "
                    "takes a mapping {label: examples}, (input, label) pairs or (inputs, labels) "
                    "batches"
                )
            yield inputs, check_label(labels)
            continue
        labels = _label_list(labels)
        if isinstance(inputs, (str, bytes)) or not hasattr(inputs, "__len__"):
            raise InputError(
                f"item {position} pairs one input with {len(labels)} labels; register_many takes "
                "a mapping {label: examples}, (input, label) pairs or (inputs, labels) batches"
            )
        if len(inputs) != len(labels):
            raise InputError(f"batch {position} has {len(inputs)} inputs but {len(labels)} labels")
        for row, label in enumerate(labels):
            yield inputs[row], check_label(label)


def chunks(source: Iterable[Any], chunk_size: int) -> Iterator[dict[Label, list[Any]]]:
    """``{label: inputs}`` groups of at most ``chunk_size`` rows, labels in order of arrival."""
    group: dict[Label, list[Any]] = {}
    count = 0
    for item, label in pairs(source):
        group.setdefault(label, []).append(item)
        count += 1
        if count == chunk_size:
            yield group
            group, count = {}, 0
    if group:
        yield group


def as_rows(items: list[Any]) -> Any:
    """A chunk's items for the encoder: feature vectors stacked into one N×d array."""
    if items and isinstance(items[0], (np.ndarray, torch.Tensor)) and items[0].ndim == 1:
        return np.stack([np.asarray(item) for item in items])
    return items


def register_stream(
    add: Callable[[dict[Label, Any]], int],
    source: Iterable[Any],
    chunk_size: int,
    progress: bool | None,
) -> int:
    """Feed ``source`` to ``add`` (which embeds and adds one ``{label: batch}`` group and
    returns its rows) chunk by chunk; returns the rows registered."""
    chunk_size = check_chunk_size(chunk_size)
    loader = hasattr(source, "batch_size")  # its len() counts batches, not rows
    total = len(source) if isinstance(source, Sized) and not loader else None
    done = 0
    with progress_bar(desc="register", total=total, enabled=progress, unit="rows") as bar:
        for group in chunks(source, chunk_size):
            try:
                added = add({label: as_rows(items) for label, items in group.items()})
            except FewShotError as exc:
                note = f"{done} rows were registered before this chunk; " if done else ""
                raise type(exc)(f"register_many: {note}{exc}") from exc
            done += added
            bar.update(added)
    if not done:
        raise InputError("register_many got an empty stream: nothing to register")
    return done
