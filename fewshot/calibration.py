"""Choosing a rejection threshold on best-match scores from held-out in-scope and out-of-scope data."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fewshot.errors import InputError


@dataclass(frozen=True)
class ThresholdChoice:
    """A threshold and the rates it gives on the calibration data."""

    threshold: float
    in_scope_acceptance: float  # fraction of in-scope examples whose best score >= threshold
    out_of_scope_rejection: float | None  # fraction of out-of-scope examples below it


def _rate(values: float | None, name: str) -> float | None:
    if values is None:
        return None
    if not 0.0 < float(values) <= 1.0:
        raise InputError(f"{name} must be in (0, 1], got {values}")
    return float(values)


def pick_threshold(
    in_scope_scores: np.ndarray,
    out_of_scope_scores: np.ndarray | None = None,
    *,
    in_scope_acceptance: float | None = None,
    out_of_scope_rejection: float | None = None,
) -> ThresholdChoice:
    """Pick the threshold on best-match scores (higher = more confident).

    - ``in_scope_acceptance=r``: the highest threshold accepting at least ``r`` of in-scope.
    - ``out_of_scope_rejection=r``: the lowest threshold rejecting at least ``r`` of out-of-scope.
    - neither: maximise balanced accuracy ``(acceptance + rejection) / 2`` (needs out-of-scope).
    """
    inside = np.asarray(in_scope_scores, dtype=np.float64).ravel()
    outside = (
        None if out_of_scope_scores is None else np.asarray(out_of_scope_scores, np.float64).ravel()
    )
    if inside.size == 0:
        raise InputError("calibration needs at least one in-scope example")
    if outside is not None and outside.size == 0:
        outside = None
    accept_rate = _rate(in_scope_acceptance, "in_scope_acceptance")
    reject_rate = _rate(out_of_scope_rejection, "out_of_scope_rejection")
    if accept_rate is not None and reject_rate is not None:
        raise InputError("give in_scope_acceptance or out_of_scope_rejection, not both")
    if accept_rate is not None:
        ordered = np.sort(inside)[::-1]
        threshold = float(ordered[int(np.ceil(accept_rate * inside.size)) - 1])
    elif reject_rate is not None:
        if outside is None:
            raise InputError("out_of_scope_rejection needs out-of-scope examples")
        ordered = np.sort(outside)
        index = int(np.ceil(reject_rate * outside.size)) - 1
        threshold = float(np.nextafter(ordered[index], np.inf))
    else:
        if outside is None:
            raise InputError(
                "pass out-of-scope examples, or a target rate (in_scope_acceptance=0.95)"
            )
        candidates = np.unique(np.concatenate([inside, np.nextafter(outside, np.inf)]))
        accept = 1.0 - np.searchsorted(np.sort(inside), candidates, side="left") / inside.size
        reject = np.searchsorted(np.sort(outside), candidates, side="left") / outside.size
        threshold = float(candidates[int(np.argmax(accept + reject))])
    acceptance = float((inside >= threshold).mean())
    rejection = None if outside is None else float((outside < threshold).mean())
    return ThresholdChoice(threshold, acceptance, rejection)
