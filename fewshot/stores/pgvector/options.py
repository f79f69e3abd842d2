"""``store_options`` of the pgvector backend: the table's address, connection and index settings.

The address is a libpq connection string or URI (``dsn``) and a table name. A password in the
dsn or under ``password`` is kept apart: ``public()`` and ``address()`` never contain it, so
saves, ``repr`` and ``clf.store_options`` do not leak it. Without one, libpq reads
``PGPASSWORD`` or ``~/.pgpass`` as usual.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from fewshot.errors import InputError

DEFAULT_TABLE = "fewshot_classes"
INDEXES = ("exact", "hnsw")
LOCK_BUCKETS = 256
# Lower-case identifiers, optionally schema-qualified; short enough that the derived names
# (``<table>_shots``, ``<table>_<kind>_hnsw_<hash>``) stay within PostgreSQL's 63 bytes.
_NAME = re.compile(r"^(?:[a-z_][a-z0-9_]{0,39}\.)?[a-z_][a-z0-9_]{0,39}$")
_LIMITS = {  # integer option: (default, minimum, maximum)
    "connect_timeout": (5, 2, 3600),  # psycopg waits at least 2 s whatever is asked
    "pool_size": (4, 1, 256),
    "ef_search": (100, 1, 1000),
    "m": (16, 2, 100),
    "ef_construction": (64, 4, 1000),
}


@dataclass(frozen=True)
class PgOptions:
    """Checked settings (see ``parse_options``); ``password`` is never shown or saved."""

    dsn: str  # without the password
    table: str = DEFAULT_TABLE
    index: str = "exact"
    connect_timeout: int = 5
    pool_size: int = 4
    ef_search: int = 100
    m: int = 16
    ef_construction: int = 64
    password: str | None = field(default=None, repr=False)

    def public(self) -> dict[str, Any]:
        """The options without the password (what a save writes)."""
        options = asdict(self)
        del options["password"]
        return options

    def address(self) -> dict[str, Any]:
        """Where the classes live: the dsn (no password) and the table."""
        return {"backend": "pgvector", "dsn": self.dsn, "table": self.table}

    def lock_key(self, label_set: str, label: Any) -> int:
        """The signed 64-bit advisory-lock key that guards ``label`` in this table's set.

        Labels share ``LOCK_BUCKETS`` keys per set, so one registration of 10⁵ classes takes
        at most that many locks (PostgreSQL's lock table holds a few thousand); two writers of
        different labels in one bucket merely take turns.
        """
        bucket = _digest(json.dumps(label)) % LOCK_BUCKETS
        return _digest(f"{self.table}\0{label_set}\0{bucket}")


def parse_options(options: Mapping[str, Any]) -> PgOptions:
    """``PgOptions`` from ``store_options``; an InputError names a wrong or unknown key."""
    known = {"dsn", "table", "index", "password", *_LIMITS}
    unknown = sorted(set(options) - known)
    if unknown:
        raise InputError(
            f"store_options {unknown} are not pgvector options; it takes {sorted(known)}"
        )
    dsn = options.get("dsn")
    if not isinstance(dsn, str) or not dsn.strip():
        raise InputError(
            "store='pgvector' needs store_options={'dsn': 'postgresql://user@host/db', ...}: "
            f"the server's address (got dsn={dsn!r})"
        )
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError as exc:
        raise InputError(
            f"store_options dsn is not a PostgreSQL connection string: {exc}"
        ) from None
    secret = params.pop("password", None)
    password = options.get("password", secret)
    if password is not None and not isinstance(password, str):
        raise InputError("store_options password must be a string")
    table = options.get("table", DEFAULT_TABLE)
    if not isinstance(table, str) or not _NAME.match(table):
        raise InputError(
            "store_options table must be a lower-case SQL name (letters, digits, _; at most 40 "
            f"characters, optionally 'schema.name'), got {table!r}"
        )
    index = options.get("index", "exact")
    if index not in INDEXES:
        raise InputError(f"store_options index must be one of {INDEXES}, got {index!r}")
    numbers = {name: _integer(options, name) for name in _LIMITS}
    public_dsn = make_conninfo("", **{k: str(v) for k, v in params.items()})
    return PgOptions(public_dsn, table, index, password=password or None, **numbers)


def _integer(options: Mapping[str, Any], name: str) -> int:
    default, low, high = _LIMITS[name]
    value = options.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InputError(f"store_options {name} must be an int in [{low}, {high}], got {value!r}")
    return value


def _digest(text: str) -> int:
    """A signed 64-bit hash of ``text`` (stable across processes and machines)."""
    return int.from_bytes(
        hashlib.blake2b(text.encode(), digest_size=8).digest(), "big", signed=True
    )
