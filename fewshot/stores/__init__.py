"""Class-store backends by name: ``"flat"`` (exact, the default) and ``"ivf"`` (approximate)."""

from __future__ import annotations

import os

from fewshot.errors import InputError
from fewshot.index import FlatStore, VectorStore
from fewshot.stores.ivf import IVFStore

STORES: dict[str, type] = {"flat": FlatStore, "ivf": IVFStore}


def check_store_name(name: str) -> str:
    """The name itself if it is a known backend; otherwise an error listing the choices."""
    if name not in STORES:
        raise InputError(f"store must be one of {tuple(STORES)}, got {name!r}")
    return name


def make_store(name: str, dim: int, metric: str) -> VectorStore:
    """An empty store of backend ``name`` for ``dim``-d vectors compared by ``metric``."""
    return STORES[check_store_name(name)](dim, metric)


def load_store(name: str, path: str | os.PathLike[str], dim: int, metric: str) -> VectorStore:
    """Read a store of backend ``name`` written by its ``save``."""
    return STORES[check_store_name(name)].load(path, dim, metric)


__all__ = ["STORES", "FlatStore", "IVFStore", "check_store_name", "load_store", "make_store"]
