"""Connections to the server: a small thread-safe pool and clear errors when none can be made.

Each thread takes its own connection for a call (a shared connection would put one thread's
statements inside another's transaction). Connections are opened on demand, at most
``pool_size`` at a time, and kept while healthy. A failed connect raises at once with the
server's own reason (refused password, no server, timeout) and the fix, instead of waiting
for a background pool to give up.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

import psycopg
from psycopg import pq

from fewshot.errors import StoreUnavailableError
from fewshot.stores.pgvector.options import PgOptions


def first_line(exc: BaseException) -> str:
    """The useful part of a libpq message (its first non-empty line, trimmed)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def connect_error(exc: psycopg.Error, options: PgOptions) -> StoreUnavailableError:
    """A ``StoreUnavailableError`` that says why a connect failed and what to do."""
    text = str(exc)
    if "password" in text and ("authentication failed" in text or "no password" in text):
        fix = (
            "the server refused the login: set PGPASSWORD or a ~/.pgpass entry, or pass "
            "store_options={'password': ...} (to FewShotClassifier.load too)"
        )
    elif isinstance(exc, psycopg.errors.ConnectionTimeout) or "timeout" in text:
        fix = (
            f"no answer within connect_timeout={options.connect_timeout} s: is the server up "
            "and reachable from here?"
        )
    else:
        fix = "is the server running, and are the host, port and database in the dsn right?"
    reason = " ".join(line.strip() for line in text.splitlines() if line.strip())
    return StoreUnavailableError(
        f"cannot connect to PostgreSQL at {options.dsn!r}: {reason}; {fix}. Nothing was changed"
    )


class Pool:
    """At most ``options.pool_size`` connections (autocommit), each set up by ``configure``."""

    def __init__(self, options: PgOptions, configure: Callable[[psycopg.Connection], None]) -> None:
        self.options = options
        self._configure = configure
        self._idle: list[psycopg.Connection] = []
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(options.pool_size)
        self._closed = False

    def connect(self) -> psycopg.Connection:
        """A new configured connection, or a StoreUnavailableError naming the reason."""
        extra: dict[str, Any] = {}
        if self.options.password is not None:
            extra["password"] = self.options.password
        try:
            conn = psycopg.connect(
                self.options.dsn,
                autocommit=True,
                connect_timeout=self.options.connect_timeout,
                application_name="fewshot",
                **extra,
            )
        except psycopg.Error as exc:
            raise connect_error(exc, self.options) from None
        try:
            self._configure(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """A connection for this thread alone; given back (or dropped if broken) afterwards."""
        if self._closed:
            raise StoreUnavailableError("this classifier was closed: its connections are gone")
        with self._slots:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None or conn.closed:
                conn = self.connect()
            try:
                yield conn
            finally:
                self._give_back(conn)

    def _give_back(self, conn: psycopg.Connection) -> None:
        idle = conn.info.transaction_status == pq.TransactionStatus.IDLE
        if conn.closed or conn.broken or not idle or self._closed:
            with suppress(psycopg.Error):
                conn.close()
            return
        with self._lock:
            self._idle.append(conn)

    def discard_idle(self) -> None:
        """Close every idle connection (after the server restarted, all of them are dead)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            with suppress(psycopg.Error):
                conn.close()

    def close(self) -> None:
        """Close the idle connections; those in use close when given back."""
        self._closed = True
        self.discard_idle()
