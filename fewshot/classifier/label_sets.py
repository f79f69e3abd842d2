"""Label sets: several independent groups of classes (tasks, tenants) behind one classifier.

Each label set is a ``ClassCatalog`` of its own: a query searches one set, so sets never mix
and one encoder pass can be answered for several of them. ``LocalSets`` keeps one in-process
``Catalog`` (one FAISS index) per set; a database backend keeps a column (see
``fewshot.stores.pgvector``). Both implement ``LabelSets``.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, Protocol

from fewshot.classifier.catalog import CatalogState, ClassCatalog
from fewshot.classifier.local_catalog import Catalog
from fewshot.classifier.space import MetricSpace
from fewshot.errors import InputError

#: The label set of calls that name none.
DEFAULT_SET = "default"
MAX_SET_LENGTH = 200


def check_label_set(name: Any) -> str:
    """A label set's name: a non-empty string of at most 200 characters."""
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_SET_LENGTH:
        raise InputError(
            f"label_set must be a non-empty string of at most {MAX_SET_LENGTH} characters, "
            f"got {name!r}"
        )
    return name


def check_label_sets(names: Any) -> list[str]:
    """A list of distinct label-set names (a single string is refused: wrap it in a list)."""
    if isinstance(names, str):
        raise InputError(f"label_sets takes a list of names; wrap one in a list: [{names!r}]")
    try:
        checked = [check_label_set(name) for name in names]
    except TypeError as exc:
        raise InputError(f"label_sets must be a list of names, got {names!r}") from exc
    if len(set(checked)) != len(checked):
        raise InputError(f"label_sets names a set twice: {checked}")
    return checked


class LabelSets(Protocol):
    """Every label set of a classifier, each a ``ClassCatalog`` sharing one space and settings."""

    space: MetricSpace
    mode: str
    store: str

    @property
    def store_options(self) -> dict[str, Any]: ...
    @property
    def dim(self) -> int | None: ...
    def get(self, name: str) -> ClassCatalog: ...  # a set's catalog (empty if it has none)
    def names(self) -> list[str]: ...  # the sets that hold at least one class
    def states(self) -> dict[str, CatalogState]: ...  # what a file snapshot holds, by set
    def address(self) -> dict[str, Any] | None: ...  # where a shared store lives
    def close(self) -> None: ...


class LocalSets:
    """In-process label sets: one ``Catalog`` per set, made on first use, all of one width.

    Arguments follow ``Catalog``; ``catalogs`` are restored ones by set name.
    """

    def __init__(
        self,
        space: MetricSpace,
        mode: str,
        store: str,
        dim: int | None,
        store_options: Mapping[str, Any] | None = None,
        catalogs: Mapping[str, Catalog] | None = None,
    ) -> None:
        self.space, self.mode, self.store = space, mode, store
        self._options = dict(store_options or {})
        self._dim = dim
        self._catalogs: dict[str, Catalog] = dict(catalogs or {})
        self._lock = threading.Lock()

    @property
    def store_options(self) -> dict[str, Any]:
        return dict(self._options)

    @property
    def dim(self) -> int | None:
        """The embedding size, once any set (or the encoder) has fixed it."""
        known = [catalog.dim for catalog in self._catalogs.values() if catalog.dim is not None]
        return known[0] if known else self._dim

    def get(self, name: str) -> Catalog:
        with self._lock:
            catalog = self._catalogs.get(name)
            if catalog is None:
                catalog = Catalog(self.space, self.mode, self.store, self.dim, self._options)
                self._catalogs[name] = catalog
            return catalog

    def names(self) -> list[str]:
        with self._lock:
            return [name for name, catalog in self._catalogs.items() if len(catalog)]

    def states(self) -> dict[str, CatalogState]:
        """Each set's snapshot state; the default set always (it records the width)."""
        names = [DEFAULT_SET, *(name for name in self.names() if name != DEFAULT_SET)]
        return {name: self.get(name).state() for name in names}

    def address(self) -> dict[str, Any] | None:
        return None

    def replaced(self, name: str, catalog: Catalog) -> LocalSets:
        """New sets in ``catalog``'s space holding only ``catalog`` as set ``name``."""
        return LocalSets(
            catalog.space, self.mode, self.store, catalog.dim, self._options, {name: catalog}
        )

    def close(self) -> None:
        """Nothing to release: the classes live in this process."""
