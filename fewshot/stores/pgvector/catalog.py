"""One label set of a pgvector table, as the classifier's ``ClassCatalog``.

Every read asks the database, so a class registered or removed by another process shows up
on the next call with no reload; every change is one transaction. Nothing is cached here but
the settings.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

import numpy as np
import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from fewshot.classifier.catalog import CatalogState, ClassCatalog
from fewshot.classifier.inputs import Label, check_label
from fewshot.classifier.space import MetricSpace
from fewshot.errors import InputError, UnknownLabelError
from fewshot.stores import VectorStore
from fewshot.stores.pgvector import queries
from fewshot.stores.pgvector.options import PgOptions
from fewshot.stores.pgvector.schema import Names

T = TypeVar("T")


class Table(Protocol):
    """What a catalog needs from its table (``sets.PgLabelSets``)."""

    space: MetricSpace
    mode: str
    options: PgOptions

    @property
    def store_options(self) -> dict[str, Any]: ...
    @property
    def dim(self) -> int | None: ...
    @property
    def ready(self) -> bool: ...
    def prepare(self, dim: int, label_set: str | None) -> None: ...
    def uses_exact(self, label_set: str) -> bool: ...
    def run(self, work: Callable[[psycopg.Connection], T], *, write: bool = False) -> T: ...


class PgCatalog:
    """The classes of ``label_set`` in the table of ``sets`` (see ``ClassCatalog``)."""

    store = "pgvector"

    def __init__(self, sets: Table, label_set: str) -> None:
        self._sets, self.label_set = sets, label_set
        self.space: MetricSpace = sets.space
        self.mode: str = sets.mode
        self.version = 0
        self._names = Names(sets.options.table)

    @property
    def store_options(self) -> dict[str, Any]:
        return self._sets.store_options

    @property
    def dim(self) -> int | None:
        return self._sets.dim

    @property
    def index(self) -> VectorStore | None:
        """No in-process store: searches run in the database."""
        return None

    def _select(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        """Rows of ``query`` ({classes}/{shots} name the tables; %s: the set, then params)."""
        if not self._sets.ready:
            return []
        statement = sql.SQL(query).format(classes=self._names.classes, shots=self._names.shots)
        return self._sets.run(
            lambda conn: conn.execute(statement, (self.label_set, *params)).fetchall()
        )

    # ------------------------------------------------------------------------------ reading
    @property
    def labels(self) -> list[Label]:
        rows = self._select("SELECT label FROM {classes} WHERE label_set = %s ORDER BY position")
        return [row[0] for row in rows]

    def __len__(self) -> int:
        rows = self._select("SELECT count(*) FROM {classes} WHERE label_set = %s")
        return int(rows[0][0]) if rows else 0

    def __contains__(self, label: object) -> bool:
        try:
            checked = check_label(label)
        except InputError:
            return False
        return bool(
            self._select(
                "SELECT 1 FROM {classes} WHERE label_set = %s AND label = %s", Jsonb(checked)
            )
        )

    def _unknown(self, label: object) -> UnknownLabelError:
        known = self.labels
        names = ", ".join(repr(name) for name in known[:10])
        more = "" if len(known) <= 10 else f" and {len(known) - 10} more"
        where = f" in label set {self.label_set!r}" if self.label_set != "default" else ""
        return UnknownLabelError(
            f"label {label!r} is not registered{where} (known: {names or 'none'}{more})"
        )

    def _label(self, label: object) -> Label:
        try:
            return check_label(label)
        except InputError:
            raise self._unknown(label) from None

    def num_shots(self, label: Label) -> int:
        rows = self._select(
            "SELECT shots FROM {classes} WHERE label_set = %s AND label = %s",
            Jsonb(self._label(label)),
        )
        if not rows:
            raise self._unknown(label)
        return int(rows[0][0])

    def shots(self, label: Label) -> np.ndarray:
        """The raw embeddings of ``label`` (shots×d float32), in registration order."""
        rows = self._select(
            "SELECT vector FROM {shots} WHERE label_set = %s AND label = %s ORDER BY id",
            Jsonb(self._label(label)),
        )
        if not rows:
            raise self._unknown(label)
        return np.stack([row[0].to_numpy() for row in rows]).astype(np.float32)

    def examples(self, label: Label) -> list[Any]:
        checked = Jsonb(self._label(label))
        rows = self._select(
            "SELECT example FROM {shots} WHERE label_set = %s AND label = %s "
            "AND example IS NOT NULL ORDER BY id",
            checked,
        )
        if not rows and label not in self:
            raise self._unknown(label)
        return [row[0] for row in rows]

    def incomplete(self) -> list[Label]:
        rows = self._select(
            "SELECT label FROM {classes} WHERE label_set = %s AND texts <> shots ORDER BY position"
        )
        return [row[0] for row in rows]

    def max_shots(self) -> int:
        rows = self._select("SELECT coalesce(max(shots), 0) FROM {classes} WHERE label_set = %s")
        return int(rows[0][0]) if rows else 0

    def stored(self) -> int:
        """Vectors searched: classes (prototype mode) or shots (knn)."""
        count = "count(*)" if self.mode == "prototype" else "coalesce(sum(shots), 0)"
        rows = self._select(f"SELECT {count} FROM {{classes}} WHERE label_set = %s")
        return int(rows[0][0]) if rows else 0

    # ------------------------------------------------------------------------------ changing
    def add(self, embedded: Mapping[Label, np.ndarray], raw: Mapping[Label, list[Any]]) -> None:
        """Add validated raw embeddings by label in one transaction; texts are kept when every
        input of a label is a string (as ``Catalog`` does)."""
        if not embedded:
            return
        self._sets.prepare(next(iter(embedded.values())).shape[1], self.label_set)
        labels = list(embedded)
        texts: list[list[str] | None] = []
        for label in labels:
            items = raw.get(label) or []
            keep = bool(items) and all(isinstance(item, str) for item in items)
            texts.append(list(items) if keep else None)
        keys = [self._sets.options.lock_key(self.label_set, label) for label in labels]
        vectors = [embedded[label] for label in labels]
        self._sets.run(
            lambda conn: queries.add_classes(
                conn, self._names, self.space, self.label_set, labels, keys, vectors, texts
            ),
            write=True,
        )
        self.version += 1

    def remove(self, label: Label) -> None:
        """Forget ``label`` and its shots (UnknownLabelError if it is not registered)."""
        checked = self._label(label)
        key = self._sets.options.lock_key(self.label_set, checked)
        removed = self._sets.ready and self._sets.run(
            lambda conn: queries.remove_class(conn, self._names, self.label_set, checked, key),
            write=True,
        )
        if not removed:
            raise self._unknown(label)
        self.version += 1

    def rebuilt(
        self,
        space: MetricSpace,
        shots: Mapping[Label, np.ndarray],
        examples: Mapping[Label, list[Any]],
    ) -> ClassCatalog:
        raise InputError("a shared pgvector table is never rebuilt in place (see finetune())")

    # ------------------------------------------------------------------------------ searching
    def nearest(self, queries_: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` stored vectors of this set for metric-space queries (N×d): scores (N×k)
        and labels (N×k object, ``None`` where fewer than ``k`` exist)."""
        if not self._sets.ready or not len(queries_):
            return np.full((len(queries_), k), -np.inf, np.float32), np.full(
                (len(queries_), k), None, object
            )
        exact = self._sets.uses_exact(self.label_set)
        metric = self.space.metric.name

        def work(conn: psycopg.Connection) -> tuple[np.ndarray, np.ndarray]:
            return queries.search(
                conn, self._names, self.mode, metric, self.label_set, queries_, k, exact
            )

        return self._sets.run(work)

    def state(self) -> CatalogState:
        """Nothing but the width: a file snapshot records the table's address instead."""
        return CatalogState(self.dim, 0, {}, {}, None, None)
