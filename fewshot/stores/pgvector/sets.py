"""A pgvector class table as the classifier's ``LabelSets``: connections, checks, retries.

Opening connects at once (so a wrong address fails at construction), creates the extension
and the tables when missing (once the dimension is known) or checks an existing table's
format, dimension and metric. Every call runs on a pooled connection of its own; when the
server restarted since the last call, the first statement fails on a dead connection and the
call is retried once on a fresh one. A change whose COMMIT was cut off is not retried: the
error says so, since it may or may not have been applied.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import psycopg
from pgvector.psycopg import register_vector

from fewshot.classifier.catalog import CatalogState
from fewshot.classifier.label_sets import DEFAULT_SET, LabelSets
from fewshot.classifier.space import MetricSpace
from fewshot.errors import StoreFormatError, StoreUnavailableError
from fewshot.stores.pgvector import schema
from fewshot.stores.pgvector.catalog import PgCatalog
from fewshot.stores.pgvector.options import PgOptions, parse_options
from fewshot.stores.pgvector.pool import Pool, first_line

T = TypeVar("T")


class _CommitCutOff(Exception):
    """The connection failed while COMMIT was under way."""


class PgLabelSets:
    """Every label set of one table (``LabelSets``); ``open``/``reopen`` make one."""

    store = "pgvector"

    def __init__(self, space: MetricSpace, mode: str, options: PgOptions) -> None:
        self.space, self.mode, self.options = space, mode, options
        self.pool = Pool(options, self._configure)
        self._dim: int | None = None
        self._catalogs: dict[str, PgCatalog] = {}
        self._indexed: set[str] = set()
        self._lock = threading.Lock()

    @classmethod
    def open(
        cls,
        space: MetricSpace,
        mode: str,
        dim: int | None,
        store_options: Mapping[str, Any],
        *,
        must_exist: bool = False,
    ) -> PgLabelSets:
        """Connect; check the table if it exists, else create it (once ``dim`` is known)."""
        sets = cls(space, mode, parse_options(store_options))
        record = sets.run(lambda conn: schema.read_record(conn, sets.options))
        if record is None and must_exist:
            sets.close()
            raise StoreFormatError(
                f"table {sets.options.table!r} does not exist at {sets.options.dsn!r}: it was "
                "dropped or never made (a save holds only its address, not the classes)"
            )
        try:
            if record is not None:
                sets._dim = schema.check_record(record, sets.options, dim, space.metric.name)
            elif dim is not None:
                sets.prepare(dim, None)
        except BaseException:
            sets.close()
            raise
        return sets

    @classmethod
    def reopen(
        cls,
        space: MetricSpace,
        mode: str,
        dim: int | None,
        store_options: Mapping[str, Any],
        address: Mapping[str, Any],
    ) -> PgLabelSets:
        """The table a save recorded (``store_options`` may add a password or move the dsn)."""
        if address.get("backend") != "pgvector" or not isinstance(address.get("table"), str):
            raise StoreFormatError(f"the saved store address is not a pgvector one: {address!r}")
        return cls.open(space, mode, dim, store_options, must_exist=True)

    # ------------------------------------------------------------------------------ LabelSets
    @property
    def store_options(self) -> dict[str, Any]:
        return self.options.public()

    @property
    def dim(self) -> int | None:
        return self._dim

    @property
    def ready(self) -> bool:
        """Whether the table exists (made by the first registration, maybe by another
        process since this one looked)."""
        if self._dim is None:
            record = self.run(lambda conn: schema.read_record(conn, self.options))
            if record is not None:
                self._dim = schema.check_record(record, self.options, None, self.space.metric.name)
        return self._dim is not None

    def get(self, name: str) -> PgCatalog:
        with self._lock:
            if name not in self._catalogs:
                self._catalogs[name] = PgCatalog(self, name)
            return self._catalogs[name]

    def names(self) -> list[str]:
        if not self.ready:
            return []
        table = schema.Names(self.options.table).classes
        statement = psycopg.sql.SQL(
            "SELECT label_set FROM {} GROUP BY label_set ORDER BY min(position)"
        ).format(table)
        return [row[0] for row in self.run(lambda conn: conn.execute(statement).fetchall())]

    def states(self) -> dict[str, CatalogState]:
        return {DEFAULT_SET: CatalogState(self._dim, 0, {}, {}, None, None)}

    def address(self) -> dict[str, Any]:
        return {**self.options.address(), "format_version": schema.FORMAT_VERSION}

    def close(self) -> None:
        self.pool.close()

    # ------------------------------------------------------------------------------ internals
    def prepare(self, dim: int, label_set: str | None) -> None:
        """Create the table for ``dim``-d vectors if needed, and ``label_set``'s index."""
        if self._dim is None:
            metric = self.space.metric.name
            record = self.run(lambda conn: schema.create_tables(conn, self.options, dim, metric))
            self._dim = schema.check_record(record, self.options, dim, metric)
        if label_set is not None:
            self.uses_exact(label_set)

    def uses_exact(self, label_set: str) -> bool:
        """False when searches of ``label_set`` go through its HNSW index (built on first use)."""
        if self.options.index == "exact":
            return True
        if label_set not in self._indexed:
            metric = self.space.metric.name
            self.run(
                lambda conn: schema.ensure_hnsw(conn, self.options, self.mode, metric, label_set)
            )
            self._indexed.add(label_set)
        return False

    def _configure(self, conn: psycopg.Connection) -> None:
        try:
            register_vector(conn)
        except psycopg.ProgrammingError:  # a new database: the extension is not there yet
            try:
                conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            except psycopg.Error as exc:
                raise StoreUnavailableError(
                    f"the pgvector extension is missing at {self.options.dsn!r} and this user "
                    f"cannot create it ({first_line(exc)}): run CREATE EXTENSION vector as "
                    "the database owner"
                ) from None
            register_vector(conn)
        if self.options.index == "hnsw":
            conn.execute(f"SET hnsw.ef_search = {self.options.ef_search}")

    def run(self, work: Callable[[psycopg.Connection], T], *, write: bool = False) -> T:
        """``work(conn)`` on a pooled connection (in a transaction when ``write``), retried
        once on a fresh connection if the server dropped the old one; errors become fewshot's."""
        for attempt in (1, 2):
            with self.pool.connection() as conn:
                try:
                    return _transact(conn, work) if write else work(conn)
                except _CommitCutOff as cut:
                    raise StoreUnavailableError(
                        f"the connection to {self.options.dsn!r} broke during COMMIT "
                        f"({first_line(cut.__cause__ or cut)}): the change may or may not be "
                        "stored; check (e.g. num_shots) before repeating it"
                    ) from None
                except psycopg.OperationalError as exc:
                    if attempt == 1 and (conn.closed or conn.broken):
                        self.pool.discard_idle()  # the server restarted: all of them are dead
                        continue
                    raise StoreUnavailableError(
                        f"PostgreSQL at {self.options.dsn!r} failed: {first_line(exc)}; "
                        "nothing was changed"
                    ) from None
                except psycopg.Error as exc:
                    raise self._translate(exc) from None
        raise AssertionError("unreachable")

    def _translate(self, exc: psycopg.Error) -> Exception:
        where = f"table {self.options.table!r} at {self.options.dsn!r}"
        if isinstance(exc, psycopg.errors.UndefinedTable):
            return StoreFormatError(
                f"{where} no longer exists (dropped?); nothing was changed. Make a new "
                "classifier on it to start an empty one"
            )
        if isinstance(exc, (psycopg.errors.DataException, psycopg.errors.UndefinedColumn)):
            return StoreFormatError(
                f"{where} no longer matches this classifier ({first_line(exc)}): it was "
                "replaced by another; nothing was changed"
            )
        return StoreUnavailableError(
            f"PostgreSQL at {self.options.dsn!r} refused the call ({exc.sqlstate}: "
            f"{first_line(exc)}); nothing was changed"
        )


def _transact(conn: psycopg.Connection, work: Callable[[psycopg.Connection], T]) -> T:
    """``work`` in one transaction; a failure during COMMIT is told apart (``_CommitCutOff``)."""
    committing = False
    try:
        with conn.transaction():
            result = work(conn)
            committing = True
        return result
    except psycopg.OperationalError as exc:
        if committing:
            raise _CommitCutOff() from exc
        raise


def _conforms(sets: PgLabelSets) -> LabelSets:
    """Nothing at run time: lets the type checker hold ``PgLabelSets`` to ``LabelSets``."""
    return sets
