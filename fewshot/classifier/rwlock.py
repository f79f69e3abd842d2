"""A readers–writer lock: many concurrent readers or one writer, so FAISS searches run in parallel.

FAISS flat search is safe for concurrent readers, but ``add``/``remove_ids`` are not safe
beside a search (FAISS documents only concurrent searches as thread-safe). Waiting writers block new readers, so a steady stream of queries
cannot starve ``register``/``remove``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class ReadWriteLock:
    """Shared (``read``) and exclusive (``write``) sections; the writer may re-enter both.

    Read sections do not nest in one thread while another thread waits to write (that would
    deadlock, as with any writer-preferring lock); keep them flat.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writer: int | None = None  # thread id of the writer inside, if any
        self._writer_depth = 0
        self._waiting_writers = 0

    @contextmanager
    def read(self) -> Iterator[None]:
        """Shared section: runs beside other readers, never beside a writer."""
        me = threading.get_ident()
        with self._cond:
            if self._writer == me:  # the writer reading its own state
                self._writer_depth += 1
            else:
                while self._writer is not None or self._waiting_writers:
                    self._cond.wait()
                self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                if self._writer == me:
                    self._writer_depth -= 1
                else:
                    self._readers -= 1
                    if self._readers == 0:
                        self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        """Exclusive section: waits for readers inside to leave; re-entrant in one thread."""
        me = threading.get_ident()
        with self._cond:
            if self._writer == me:
                self._writer_depth += 1
            else:
                self._waiting_writers += 1
                try:
                    while self._writer is not None or self._readers:
                        self._cond.wait()
                finally:
                    self._waiting_writers -= 1
                self._writer, self._writer_depth = me, 1
        try:
            yield
        finally:
            with self._cond:
                self._writer_depth -= 1
                if self._writer_depth == 0:
                    self._writer = None
                    self._cond.notify_all()
