"""Crash-safe, versioned files: checksums, atomic JSON, and snapshot directories behind a pointer.

A store directory holds complete snapshots and a small ``CURRENT`` file naming the live one.
A save writes a new snapshot under a temporary name, renames it into place, then replaces
``CURRENT`` with ``os.replace`` (atomic on POSIX), so a process killed at any moment leaves
the previous save loadable. Saves hold an exclusive ``flock`` on the store directory and loads
a shared one, so saves (from any thread or process on a local filesystem) run one at a time and
a load never sees a snapshot deleted under it. Nothing here unpickles.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from fewshot.errors import InputError, StoreFormatError

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; saves are still atomic, not serialised
    fcntl = None  # type: ignore[assignment]

POINTER_NAME = "CURRENT"
POINTER_FORMAT = "fewshot.store"
SNAPSHOT_PREFIX = "snapshot-"
TEMP_PREFIX = ".tmp-"
# Names that only commit_snapshot creates inside a store: snapshots, their temporary folders and
# the temporary CURRENT file. Leftovers of a killed save match these and nothing else.
_SNAPSHOT_NAME = rf"{re.escape(SNAPSHOT_PREFIX)}\d+-\d+"
_OWN_NAMES = re.compile(
    rf"^(?:{_SNAPSHOT_NAME}|{re.escape(TEMP_PREFIX)}{_SNAPSHOT_NAME}\.\d+\.d"
    rf"|{re.escape(TEMP_PREFIX + POINTER_NAME)}\.\d+\.\d+)$"
)


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fsync_path(path: str | os.PathLike[str]) -> None:
    """Flush a file or directory entry to disk (directories: so renames inside survive a crash)."""
    flags = os.O_RDONLY | (os.O_DIRECTORY if os.path.isdir(path) else 0)
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_bytes_durably(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to a new file at ``path`` and fsync it."""
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def write_json_atomic(path: str | os.PathLike[str], obj: Any) -> None:
    """Replace ``path`` with ``obj`` as JSON, atomically: readers see the old or the new file."""
    path = Path(path)
    temp = path.with_name(f"{TEMP_PREFIX}{path.name}.{os.getpid()}.{time.monotonic_ns()}")
    try:
        write_bytes_durably(temp, json.dumps(obj, indent=2, ensure_ascii=False).encode("utf-8"))
        os.replace(temp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
    fsync_path(path.parent)


def read_json(path: str | os.PathLike[str], what: str) -> Any:
    """Load a JSON file, turning absence or corruption into a StoreFormatError naming the file."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError as exc:
        raise StoreFormatError(f"{what}: missing file {path}") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise StoreFormatError(
            f"{what}: {path} is not valid JSON ({exc}); the file is corrupt"
        ) from exc


def verify_checksums(directory: Path, expected: dict[str, str], what: str) -> None:
    """Check every listed file exists and has the recorded SHA-256."""
    for name, digest in expected.items():
        path = directory / name
        if Path(name).is_absolute() or ".." in Path(name).parts:
            raise StoreFormatError(f"{what}: manifest names a file outside the store: {name!r}")
        if not path.is_file():
            raise StoreFormatError(f"{what}: missing file {path}")
        actual = sha256_file(path)
        if actual != digest:
            raise StoreFormatError(
                f"{what}: checksum mismatch for {path} (expected {digest[:12]}…, found "
                f"{actual[:12]}…); the file is corrupt or was changed after saving"
            )


@contextlib.contextmanager
def store_lock(root: Path, exclusive: bool) -> Iterator[None]:
    """Hold an advisory ``flock`` on the store directory (exclusive to save, shared to load).

    The kernel drops it when the holder dies, so a killed saver never blocks the next one.
    """
    if fcntl is None:
        yield
        return
    fd = os.open(root, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # releases the lock


def _remove_stale(directory: Path, keep: str) -> None:
    """Delete what killed or earlier saves left: unreferenced snapshots and temporary files.

    Runs under the exclusive lock, so no other save is writing any of them.
    """
    for entry in directory.iterdir():
        if entry.name == keep or not _OWN_NAMES.match(entry.name):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                entry.unlink()


def write_durably(folder: Path, write: Callable[[Path], None]) -> None:
    """``write(folder)``, then fsync every file in it and the folder itself (before a rename)."""
    write(folder)
    for entry in folder.rglob("*"):
        if entry.is_file():
            fsync_path(entry)
    fsync_path(folder)


def commit_snapshot(directory: str | os.PathLike[str], write: Callable[[Path], None]) -> Path:
    """Write a new snapshot of a store with ``write(folder)``, then switch ``CURRENT`` to it.

    ``directory`` must be absent, empty, an existing store, or hold only what a killed first
    save left; anything else is refused so that a save never deletes a user's unrelated files.
    """
    root = Path(directory)
    if root.exists() and not root.is_dir():
        raise StoreFormatError(f"cannot save to {root}: it exists and is not a directory")
    root.mkdir(parents=True, exist_ok=True)
    with store_lock(root, exclusive=True):
        foreign = [p.name for p in root.iterdir() if not _OWN_NAMES.match(p.name)]
        if foreign and not (root / POINTER_NAME).is_file():
            raise StoreFormatError(
                f"refusing to save into {root}: it holds other files ({foreign[0]!r}) and no "
                f"fewshot store ({POINTER_NAME} is missing); choose an empty or new directory"
            )
        snapshot = f"{SNAPSHOT_PREFIX}{time.time_ns()}-{os.getpid()}"
        temp = root / f"{TEMP_PREFIX}{snapshot}.{os.getpid()}.d"
        temp.mkdir()
        try:
            write_durably(temp, write)
            os.rename(temp, root / snapshot)
        except BaseException:
            shutil.rmtree(temp, ignore_errors=True)
            raise
        fsync_path(root)
        write_json_atomic(root / POINTER_NAME, {"format": POINTER_FORMAT, "snapshot": snapshot})
        _remove_stale(root, keep=snapshot)
    return root / snapshot


def current_snapshot(directory: str | os.PathLike[str]) -> Path:
    """The live snapshot folder of a store, named by its ``CURRENT`` pointer."""
    root = Path(directory)
    pointer_path = root / POINTER_NAME
    snapshot = root / snapshot_name(root)
    if not snapshot.is_dir():
        raise StoreFormatError(f"{pointer_path} points to {snapshot}, which is missing")
    return snapshot


def snapshot_name(directory: str | os.PathLike[str]) -> str:
    """The snapshot name in a store's ``CURRENT`` pointer; clear errors for non-stores."""
    root = Path(directory)
    if not root.is_dir():
        raise StoreFormatError(f"no saved classifier at {root}: the directory does not exist")
    pointer_path = root / POINTER_NAME
    if not pointer_path.is_file():
        raise StoreFormatError(
            f"{root} is not a fewshot store: {pointer_path} is missing "
            "(was it written by FewShotClassifier.save?)"
        )
    pointer = read_json(pointer_path, "store pointer")
    if not isinstance(pointer, dict) or pointer.get("format") != POINTER_FORMAT:
        raise StoreFormatError(f"{pointer_path} is not a fewshot store pointer (foreign file)")
    name = pointer.get("snapshot")
    if not isinstance(name, str) or not name.startswith(SNAPSHOT_PREFIX) or "/" in name:
        raise StoreFormatError(f"{pointer_path} names an invalid snapshot: {name!r}")
    return name


def check_path_argument(directory: object, argument: str = "directory") -> Path:
    """``directory`` as a Path, or an InputError naming ``argument`` (a str or os.PathLike)."""
    if isinstance(directory, bytes) or not isinstance(directory, (str, os.PathLike)):
        raise InputError(
            f"{argument} must be a str or os.PathLike path, got {type(directory).__name__}: "
            f"{directory!r}"
        )
    if not os.fspath(directory):
        raise InputError(f"{argument} must be a non-empty path (got '')")
    return Path(directory)


@contextlib.contextmanager
def reading_store(directory: str | os.PathLike[str]) -> Iterator[Path]:
    """The live snapshot folder, held under a shared lock so no save deletes it while read."""
    root = Path(directory)
    # Clear errors for missing or foreign directories before locking; the snapshot itself is
    # only resolved under the lock (a concurrent save may replace it in between).
    snapshot_name(root)
    with store_lock(root, exclusive=False):
        yield current_snapshot(root)


def replace_directory(target: str | os.PathLike[str], write: Callable[[Path], None]) -> Path:
    """Write a plain directory (e.g. an encoder checkpoint) to a temporary name, then rename it in.

    An existing ``target`` is moved aside first and deleted after the new one is in place.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f"{TEMP_PREFIX}{target.name}.{os.getpid()}.d")
    shutil.rmtree(temp, ignore_errors=True)
    temp.mkdir()
    try:
        write_durably(temp, write)
        old = None
        if target.exists():
            old = target.with_name(f"{TEMP_PREFIX}{target.name}.{os.getpid()}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.rename(target, old)
        os.rename(temp, target)
        fsync_path(target.parent)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return target
