"""Store backends by name: ``"flat"`` (exact, the default), ``"ivf"`` (approximate) and
``"pgvector"`` (the classes in a PostgreSQL table, shared by every process that opens it).

Backends are listed as ``"module:Class"`` and imported on first use, so an optional backend
(and its dependencies) costs nothing until someone asks for it by name. ``BACKENDS`` are
in-process vector stores (``VectorStore``: vectors under ids); ``CLASS_BACKENDS`` keep the whole
class catalog (labels, shots, prototypes) themselves, so that several processes share it.
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
CLASS_BACKENDS: dict[str, str] = {
    "pgvector": "fewshot.stores.pgvector.sets:PgLabelSets",
}


def check_store_name(name: object) -> str:
    """The name itself if it is a known backend; otherwise an error listing the choices."""
    if not isinstance(name, str) or (name not in BACKENDS and name not in CLASS_BACKENDS):
        raise InputError(f"store must be one of {(*BACKENDS, *CLASS_BACKENDS)}, got {name!r}")
    return name


def store_class(name: str) -> type[VectorStore]:
    """The class of backend ``name`` (imported on first use)."""
    if check_store_name(name) not in BACKENDS:
        raise InputError(f"store {name!r} keeps whole classes, not vectors under ids")
    return load_backend(BACKENDS[name])


def load_backend(target: str) -> Any:
    """The object a ``"module:attribute"`` entry names, imported now."""
    module, _, attribute = target.partition(":")
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
    "CLASS_BACKENDS",
    "FlatStore",
    "IVFStore",
    "VectorStore",
    "check_k",
    "check_store_name",
    "load_backend",
    "load_store",
    "make_store",
    "store_class",
]
