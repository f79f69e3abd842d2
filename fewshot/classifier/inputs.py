"""Inputs → validated float32 rows: labels, thresholds, feature arrays, and encoder batches.

Feature rows are checked in chunks of ``CHUNK_ROWS`` so that a huge batch costs one float32
copy and no full-size temporaries; the copy never aliases the caller's array.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Union

import numpy as np
import torch

from fewshot.encoders import Encoder
from fewshot.encoders.base import as_input_list
from fewshot.errors import InputError
from fewshot.vectors import as_float32_matrix

Label = Union[str, int]  # noqa: UP007  (a runtime alias, used in annotations across the package)
# Rows validated, normalised, averaged or searched at a time: bounds temporary memory for huge
# batches to CHUNK_ROWS×d floats (the input and the N×k result are the only full-size arrays).
CHUNK_ROWS = 8192
#: What the store holds: one mean vector per class, or every shot.
MODES = ("prototype", "knn")


def check_label(label: Any) -> Label:
    """A label is a non-empty string or an integer; numpy integers become ``int``."""
    if isinstance(label, (bool, np.bool_)):
        raise InputError("a label must be a string or an int, not a bool")
    if isinstance(label, np.integer):
        return int(label)
    if isinstance(label, int):
        return label
    if isinstance(label, str):
        if not label.strip():
            raise InputError("a label must be a non-empty string (got an empty or blank one)")
        try:
            label.encode("utf-8")
        except UnicodeEncodeError:
            raise InputError(
                f"label {label!r} is not valid Unicode text (it holds a lone surrogate, as "
                "bytes that were not UTF-8 decode to); pass text that UTF-8 can encode"
            ) from None
        return label
    raise InputError(f"a label must be a string or an int, got {type(label).__name__}: {label!r}")


def label_batches(examples_by_label: Any) -> dict[Label, Any]:
    """``{label: examples}`` with every label checked; refuses duplicates after normalising."""
    if not isinstance(examples_by_label, Mapping):
        raise InputError(
            "register_many takes a mapping {label: examples}, got "
            f"{type(examples_by_label).__name__}"
        )
    if not examples_by_label:
        raise InputError("register_many got an empty mapping: nothing to register")
    batches: dict[Label, Any] = {}
    for raw_label, examples in examples_by_label.items():
        label = check_label(raw_label)
        if label in batches:
            raise InputError(f"label {label!r} appears twice in register_many")
        batches[label] = examples
    return batches


def check_threshold(threshold: Any) -> float | None:
    """``None`` (reject nothing) or a finite number."""
    if threshold is None:
        return None
    if isinstance(threshold, bool):
        raise InputError(f"threshold must be a number or None, got {threshold!r}")
    try:
        value = float(threshold)
    except (TypeError, ValueError) as exc:
        raise InputError(f"threshold must be a number or None, got {threshold!r}") from exc
    if not np.isfinite(value):
        raise InputError(f"threshold must be finite, got {threshold!r}")
    return value


def check_settings(mode: Any, n_neighbors: Any, store_options: Any) -> None:
    """The classifier's constructor settings, each checked with an error naming it."""
    if mode not in MODES:
        raise InputError(f"mode must be one of {MODES}, got {mode!r}")
    if (
        isinstance(n_neighbors, bool)
        or not isinstance(n_neighbors, (int, np.integer))
        or n_neighbors < 1
    ):
        raise InputError(f"n_neighbors must be an int >= 1, got {n_neighbors!r}")
    if store_options is not None and not isinstance(store_options, Mapping):
        raise InputError(f"store_options must be a mapping, got {type(store_options).__name__}")


def feature_rows(examples: Any, dim: int | None, what: str) -> np.ndarray:
    """Feature inputs as a 2-D real array of width ``dim`` (not yet copied to float32)."""
    if isinstance(examples, torch.Tensor):
        tensor = examples.detach().cpu()
        if tensor.is_floating_point() and tensor.dtype not in (torch.float32, torch.float64):
            tensor = tensor.float()  # bfloat16 / float16: numpy has no bfloat16
        examples = tensor.numpy()
    try:
        array = np.asarray(examples)
    except ValueError as exc:  # ragged lists
        raise InputError(f"`{what}` must be an N×d array of feature vectors: {exc}") from exc
    if array.dtype == object or array.dtype.kind in "USV":
        raise InputError(
            f"`{what}` must be numeric feature vectors (this classifier has no encoder); "
            "pass FewShotClassifier(encoder=...) to classify raw inputs"
        )
    if array.ndim == 1 and array.size == 0:
        array = array.reshape(0, dim or 0)  # an empty batch
    elif array.ndim == 1 and dim is not None and array.size == dim:
        array = array[None, :]  # one vector
    if array.ndim != 2:
        raise InputError(
            f"`{what}` must be a 2-D array N×d of feature vectors, got shape {array.shape}"
        )
    as_float32_matrix(array[:0], dim, what)  # shape and dtype errors before any copy
    return array


def feature_chunk(rows: np.ndarray, start: int, dim: int | None, what: str) -> np.ndarray:
    """Rows ``start…start+CHUNK_ROWS`` validated as float32 (NaN/inf named by global row)."""
    return as_float32_matrix(rows[start : start + CHUNK_ROWS], dim, what, first_row=start)


def embed_inputs(encoder: Encoder | None, examples: Any, dim: int | None, what: str) -> np.ndarray:
    """A batch as raw float32 embeddings ``N×d``: through ``encoder``, or validated features."""
    if encoder is None:
        rows = feature_rows(examples, dim, what)
        out = np.empty(rows.shape, dtype=np.float32)
        for start in range(0, len(rows), CHUNK_ROWS):
            out[start : start + CHUNK_ROWS] = feature_chunk(rows, start, dim, what)
        return out
    items = as_input_list(examples, what)
    if not items:
        return np.zeros((0, encoder.dim), dtype=np.float32)
    try:
        embedded = encoder.embed(items)
    except InputError as exc:
        raise InputError(f"`{what}`: {exc}") from exc
    return as_float32_matrix(embedded, dim, what)


def embed_groups(
    encoder: Encoder | None, batches: dict[Label, Any], dim: int | None
) -> tuple[dict[Label, np.ndarray], dict[Label, list[Any]]]:
    """Embed each label's examples (raw inputs go through the encoder in one pass).

    Returns the embeddings by label and, with an encoder, the raw inputs by label. Every label
    needs at least one example, and all embeddings one width.
    """
    raw: dict[Label, list[Any]] = {}
    if encoder is None:
        out = {
            label: embed_inputs(None, examples, dim, f"examples of {label!r}")
            for label, examples in batches.items()
        }
    else:
        for label, examples in batches.items():
            raw[label] = as_input_list(examples, f"examples of {label!r}")
        sizes = {label: len(group) for label, group in raw.items()}
        _require_examples(sizes)
        flat = embed_inputs(
            encoder, [item for group in raw.values() for item in group], dim, "examples"
        )
        out, start = {}, 0
        for label, size in sizes.items():
            out[label] = flat[start : start + size]
            start += size
    _require_examples({label: len(array) for label, array in out.items()})
    dims = {array.shape[1] for array in out.values()}
    if len(dims) > 1:
        raise InputError(f"examples have different dimensions {sorted(dims)}; all must match")
    return out, raw


def _require_examples(sizes: dict[Label, int]) -> None:
    empty = next((label for label, size in sizes.items() if size == 0), None)
    if empty is not None:
        raise InputError(f"no examples given for label {empty!r}: pass at least one")
