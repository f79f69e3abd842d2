"""The tables of one class store, their format record, and the optional HNSW indexes.

``<table>`` holds one row per class: label set, label (jsonb, so 5 and "5" stay distinct),
registration position, shot and text counts, and the prototype (the mean of its shots in
metric space). ``<table>_shots``
holds every shot (raw embedding, optional text); removal deletes a class's shots in the same
transaction (no foreign key: its per-row check cost a third of the insert time). The comment records the format, its version, the dimension and the metric;
mode is not recorded because both modes read the same rows (prototypes or shots).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from fewshot.errors import StoreFormatError
from fewshot.stores.pgvector.options import PgOptions

FORMAT = "fewshot.pgvector"
FORMAT_VERSION = 1
#: pgvector's operator (distance) and HNSW operator class per metric.
OPERATORS = {"cosine": ("<=>", "vector_cosine_ops"), "euclidean": ("<->", "vector_l2_ops")}


@dataclass(frozen=True)
class Names:
    """SQL names derived from the ``table`` option (``name`` or ``schema.name``)."""

    table: str

    def _parts(self, suffix: str = "") -> sql.Identifier:
        schema, _, name = self.table.rpartition(".")
        return sql.Identifier(schema, name + suffix) if schema else sql.Identifier(name + suffix)

    @property
    def classes(self) -> sql.Identifier:
        return self._parts()

    @property
    def shots(self) -> sql.Identifier:
        return self._parts("_shots")

    def index(self, what: str) -> sql.Identifier:
        """An index name (indexes live in their table's schema, so it is unqualified)."""
        return sql.Identifier(f"{self.table.rpartition('.')[2]}_{what}")

    def hnsw(self, kind: str, label_set: str) -> sql.Identifier:
        digest = hashlib.sha256(label_set.encode()).hexdigest()[:12]
        return self.index(f"{kind}_hnsw_{digest}")


def read_record(conn: psycopg.Connection, options: PgOptions) -> dict[str, Any] | None:
    """The table's format record, ``None`` if the table does not exist; StoreFormatError if
    a table of that name exists but is not a fewshot class table."""
    row = conn.execute(
        "SELECT to_regclass(%s) IS NOT NULL, obj_description(to_regclass(%s), 'pg_class')",
        (options.table, options.table),
    ).fetchone()
    if row is None or not row[0]:
        return None
    try:
        record = json.loads(row[1] or "")
    except ValueError:
        record = None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise StoreFormatError(
            f"table {options.table!r} at {options.dsn!r} exists but is not a fewshot class "
            "table; choose another store_options table name"
        )
    return record


def check_record(record: dict[str, Any], options: PgOptions, dim: int | None, metric: str) -> int:
    """The table's dimension, after checking its version, metric and (if known) ``dim``."""
    where = f"table {options.table!r} at {options.dsn!r}"
    version = record.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise StoreFormatError(
            f"{where} has format_version {version!r}; this fewshot reads up to "
            f"{FORMAT_VERSION}: upgrade fewshot to use it"
        )
    if record.get("metric") != metric:
        raise StoreFormatError(
            f"{where} holds {record.get('metric')} prototypes; this classifier uses {metric}: "
            "pass metric=" + repr(record.get("metric")) + " or another table"
        )
    table_dim = record.get("dim")
    if not isinstance(table_dim, int) or table_dim < 1:
        raise StoreFormatError(f"{where} records no valid dimension ({table_dim!r})")
    if dim is not None and dim != table_dim:
        raise StoreFormatError(
            f"{where} holds {table_dim}-d vectors, but this encoder gives {dim}-d ones: use "
            "another table (store_options table=...) or the encoder that filled it"
        )
    return table_dim


def create_tables(
    conn: psycopg.Connection, options: PgOptions, dim: int, metric: str
) -> dict[str, Any]:
    """Create the tables if no other process did first (under a lock); returns the record."""
    names = Names(options.table)
    record = {"format": FORMAT, "format_version": FORMAT_VERSION, "dim": dim, "metric": metric}
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (options.lock_key("", "create"),))
        existing = read_record(conn, options)
        if existing is not None:
            check_record(existing, options, dim, metric)
            return existing
        conn.execute(
            sql.SQL(
                "CREATE TABLE {classes} (label_set text NOT NULL, label jsonb NOT NULL, "
                "position bigint GENERATED ALWAYS AS IDENTITY, shots integer NOT NULL DEFAULT 0, "
                "texts integer NOT NULL DEFAULT 0, prototype vector({dim}), "
                "PRIMARY KEY (label_set, label))"
            ).format(classes=names.classes, dim=sql.Literal(dim))
        )
        conn.execute(
            sql.SQL("CREATE INDEX {name} ON {classes} (label_set, position)").format(
                name=names.index("order"), classes=names.classes
            )
        )
        conn.execute(
            sql.SQL(
                "CREATE TABLE {shots} (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
                "label_set text NOT NULL, label jsonb NOT NULL, vector vector({dim}) NOT NULL, "
                "example text)"
            ).format(shots=names.shots, dim=sql.Literal(dim))
        )
        conn.execute(
            sql.SQL("CREATE INDEX {name} ON {shots} (label_set, label, id)").format(
                name=names.index("shots_label"), shots=names.shots
            )
        )
        conn.execute(
            sql.SQL("COMMENT ON TABLE {classes} IS {record}").format(
                classes=names.classes, record=sql.Literal(json.dumps(record))
            )
        )
    return record


def ensure_hnsw(
    conn: psycopg.Connection, options: PgOptions, mode: str, metric: str, label_set: str
) -> None:
    """A partial HNSW index over one label set's searched column (prototypes or shots).

    One graph per set, never a filter over a shared graph (filtering an HNSW graph lost most
    results in measurements). Built once, by whichever process gets there first.
    """
    names = Names(options.table)
    kind, table, column = (
        ("prototype", names.classes, "prototype")
        if mode == "prototype"
        else ("shots", names.shots, "vector")
    )
    statement = sql.SQL(
        "CREATE INDEX IF NOT EXISTS {name} ON {table} USING hnsw ({column} {ops}) "
        "WITH (m = {m}, ef_construction = {ef}) WHERE label_set = {label_set}"
    ).format(
        name=names.hnsw(kind, label_set),
        table=table,
        column=sql.Identifier(column),
        ops=sql.SQL(OPERATORS[metric][1]),
        m=sql.Literal(options.m),
        ef=sql.Literal(options.ef_construction),
        label_set=sql.Literal(label_set),
    )
    try:
        with conn.transaction():
            conn.execute("SET LOCAL maintenance_work_mem = '256MB'")
            conn.execute(statement)
    except (psycopg.errors.UniqueViolation, psycopg.errors.DuplicateTable):
        pass  # another process created it at the same moment
