"""Vector-store backends by name: ``"flat"`` (exact, the default) and ``"ivf"`` (approximate).

Backends are listed as ``"module:Class"`` and imported on first use, so an optional backend
(and its dependencies) costs nothing until someone asks for it by name.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from fewshot.errors import InputError
from fewshot.metrics import Metric
from fewshot.stores.base import VectorStore, check_k
from fewshot.stores.flat import FlatStore
from fewshot.stores.ivf import IVFStore

BACKENDS: dict[str, str] = {
    "flat": "fewshot.stores.flat:FlatStore",
    "ivf": "fewshot.stores.ivf:IVFStore",
}


def check_store_name(name: object) -> str:
    """The name itself if it is a known backend; otherwise an error listing the choices."""
    if not isinstance(name, str) or name not in BACKENDS:
        raise InputError(f"store must be one of {tuple(BACKENDS)}, got {name!r}")
    return name


def store_class(name: str) -> type[VectorStore]:
    """The class of backend ``name`` (imported on first use)."""
    module, _, attribute = BACKENDS[check_store_name(name)].partition(":")
    return getattr(importlib.import_module(module), attribute)


def make_store(name: str, dim: int, metric: str | Metric, **options: Any) -> VectorStore:
    """An empty store of backend ``name`` for ``dim``-d vectors compared by ``metric``;
    ``options`` are the backend's own settings (e.g. ``nprobe`` for ``ivf``)."""
    cls = store_class(name)
    try:
        return cls(dim, metric, **options)
    except TypeError as exc:
        raise InputError(
            f"store_options {sorted(options)} do not fit the {name!r} store ({cls.__name__}): {exc}"
        ) from exc


def load_store(
    name: str, path: str | os.PathLike[str], dim: int, metric: str | Metric
) -> VectorStore:
    """Read a store of backend ``name`` written by its ``save``."""
    return store_class(name).load(path, dim, metric)


__all__ = [
    "BACKENDS",
    "FlatStore",
    "IVFStore",
    "VectorStore",
    "check_k",
    "check_store_name",
    "load_store",
    "make_store",
    "store_class",
]
