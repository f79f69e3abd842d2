"""Progress bars that help at a terminal and stay quiet in logs.

At a terminal a bar redraws a few times a second. When standard error is a file or a pipe (a
CI log, ``nohup``, a background run), every redraw would be kept, so the bar updates at most
every ``LOG_INTERVAL_S`` seconds there. ``FEWSHOT_PROGRESS=0`` turns every bar off.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import Any

from tqdm.auto import tqdm

LOG_INTERVAL_S = 30.0


def progress_enabled(requested: bool | None = None) -> bool:
    """Whether to show a bar: ``requested`` if given, else unless ``FEWSHOT_PROGRESS=0``."""
    if requested is not None:
        return bool(requested)
    return os.environ.get("FEWSHOT_PROGRESS", "1") != "0"


def progress_bar(
    iterable: Iterable[Any] | None = None,
    *,
    desc: str,
    total: int | None = None,
    enabled: bool | None = None,
    **options: Any,
) -> tqdm:
    """A ``tqdm`` bar over ``iterable`` (or a manual one with ``total``), log-friendly."""
    interactive = hasattr(sys.stderr, "isatty") and sys.stderr.isatty()
    options.setdefault("mininterval", 0.5 if interactive else LOG_INTERVAL_S)
    options.setdefault("dynamic_ncols", interactive)
    return tqdm(iterable, desc=desc, total=total, disable=not progress_enabled(enabled), **options)
