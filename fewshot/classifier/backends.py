"""The one place that turns a store name into the classifier's classes (``LabelSets``).

In-process stores (``flat``, ``ivf``) give ``LocalSets``: a ``Catalog`` over a FAISS index per
label set. A class backend (``pgvector``) is imported only when named, and keeps the classes
in its database, shared by every process that opens the same address.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fewshot.classifier.catalog import CatalogState
from fewshot.classifier.label_sets import LabelSets, LocalSets
from fewshot.classifier.local_catalog import Catalog
from fewshot.classifier.space import MetricSpace
from fewshot.errors import StoreFormatError
from fewshot.stores import CLASS_BACKENDS, check_store_name, load_backend


def open_label_sets(
    space: MetricSpace,
    mode: str,
    store: str,
    dim: int | None,
    store_options: Mapping[str, Any] | None,
) -> LabelSets:
    """The classes of a new classifier: empty in-process sets, or a database table (created
    when missing, checked against ``dim`` and the metric when it exists)."""
    if check_store_name(store) in CLASS_BACKENDS:
        backend = load_backend(CLASS_BACKENDS[store])
        sets: LabelSets = backend.open(space, mode, dim, store_options or {}, must_exist=False)
        return sets
    return LocalSets(space, mode, store, dim, store_options)


def restore_label_sets(
    space: MetricSpace,
    settings: Mapping[str, Any],
    states: Mapping[str, CatalogState],
    address: Any,
) -> LabelSets:
    """The classes of a loaded classifier (``settings``: its constructor keywords): the saved
    sets' states, or the saved address of a class backend (whose table must still exist and
    match)."""
    mode, store, store_options = settings["mode"], settings["store"], settings["store_options"]
    if check_store_name(store) in CLASS_BACKENDS:
        if not isinstance(address, dict):
            raise StoreFormatError(f"the saved {store!r} classifier records no store address")
        dims = [state.dim for state in states.values() if state.dim is not None]
        backend = load_backend(CLASS_BACKENDS[store])
        sets: LabelSets = backend.reopen(
            space, mode, dims[0] if dims else None, store_options or {}, dict(address)
        )
        return sets
    catalogs = {
        name: Catalog.restore(space, mode, store, state, store_options)
        for name, state in states.items()
    }
    dims = [state.dim for state in states.values() if state.dim is not None]
    return LocalSets(space, mode, store, dims[0] if dims else None, store_options, catalogs)
