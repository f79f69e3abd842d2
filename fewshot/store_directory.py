"""A store directory: complete snapshot folders behind a small ``CURRENT`` pointer file.

A save writes a new snapshot in the store's work folder (``.fewshot-tmp``), renames it into
place, then replaces ``CURRENT`` with ``os.replace`` (atomic on POSIX), so a process killed at
any moment leaves the previous save loadable. Saves hold an exclusive ``flock`` on the store
directory and loads a shared one, so saves (from any thread or process on a local filesystem)
run one at a time and a load never sees a snapshot deleted under it. ``editing_store`` holds the
exclusive lock from load to save, so concurrent load-change-save cycles (two CLI registrations)
never lose a change: the second waits for the first.

What is ours is recognised by more than a name: ``CURRENT`` must parse as a fewshot pointer, a
snapshot folder carries a marker file (or, for saves of older versions, a fewshot manifest),
and the work folder carries one too. A save never writes into a folder whose ``CURRENT`` is not
ours, and never deletes anything it did not write.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from fewshot.durable import (
    fsync_path,
    read_json,
    write_bytes_durably,
    write_durably,
    write_json_atomic,
)
from fewshot.errors import InputError, StoreFormatError

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; saves are still atomic, not serialised
    fcntl = None  # type: ignore[assignment]

POINTER_NAME = "CURRENT"
POINTER_FORMAT = "fewshot.store"
SNAPSHOT_PREFIX = "snapshot-"
MARKER_NAME = ".fewshot-snapshot"
WORK_DIR = ".fewshot-tmp"
_MARKER = b'{"format": "fewshot.snapshot"}\n'
_SNAPSHOT_NAME = re.compile(r"^snapshot-\d{1,20}-\d{1,10}$")
_held = threading.local()  # store roots this thread holds exclusively (re-entry would deadlock)


@contextlib.contextmanager
def store_lock(root: Path, exclusive: bool) -> Iterator[None]:
    """Hold an advisory ``flock`` on the store directory (exclusive to save, shared to load).

    The kernel drops it when the holder dies, so a killed saver never blocks the next one.
    """
    key = os.path.realpath(root)
    held: set[str] = getattr(_held, "roots", set())
    if key in held:
        raise InputError(
            f"{root} is being edited in this thread (FewShotClassifier.editing); it is saved "
            "when that block ends: do not save or load it inside the block"
        )
    if fcntl is None:
        yield
        return
    fd = os.open(root, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        if exclusive:
            _held.roots = held | {key}
        yield
    finally:
        if exclusive:
            _held.roots = held - {key}
        os.close(fd)  # releases the lock


def read_pointer(root: Path) -> str | None:
    """The live snapshot's name from ``CURRENT``; ``None`` if there is no ``CURRENT``."""
    pointer_path = root / POINTER_NAME
    if not pointer_path.exists() and not pointer_path.is_symlink():
        return None
    if pointer_path.is_symlink() or not pointer_path.is_file():
        raise StoreFormatError(f"{pointer_path} is not a fewshot store pointer (not a plain file)")
    try:
        pointer = read_json(pointer_path, "store pointer")
    except StoreFormatError as exc:
        raise StoreFormatError(
            f"{pointer_path} is not a fewshot store pointer ({exc}); it may belong to another "
            "program (LevelDB and RocksDB keep a CURRENT file): fewshot will not touch it"
        ) from exc
    if not isinstance(pointer, dict) or pointer.get("format") != POINTER_FORMAT:
        raise StoreFormatError(
            f"{pointer_path} is not a fewshot store pointer (foreign file); fewshot will not touch it"
        )
    name = pointer.get("snapshot")
    if not isinstance(name, str) or not _SNAPSHOT_NAME.match(name):
        raise StoreFormatError(f"{pointer_path} names an invalid snapshot: {str(name)[:80]!r}")
    return name


def snapshot_name(directory: str | os.PathLike[str]) -> str:
    """The snapshot name in a store's ``CURRENT`` pointer; clear errors for non-stores."""
    root = Path(directory)
    if not root.is_dir():
        raise StoreFormatError(f"no saved classifier at {root}: the directory does not exist")
    name = read_pointer(root)
    if name is None:
        raise StoreFormatError(
            f"{root} is not a fewshot store: {root / POINTER_NAME} is missing "
            "(was it written by FewShotClassifier.save?)"
        )
    return name


def current_snapshot(directory: str | os.PathLike[str]) -> Path:
    """The live snapshot folder of a store, named by its ``CURRENT`` pointer (a real folder)."""
    root = Path(directory)
    snapshot = root / snapshot_name(root)
    if snapshot.is_symlink() or not snapshot.is_dir():
        raise StoreFormatError(
            f"{root / POINTER_NAME} points to {snapshot}, which is missing or not a real folder"
        )
    return snapshot


def is_our_snapshot(path: Path) -> bool:
    """A snapshot folder written by fewshot: its name, a real folder, and a marker or manifest."""
    if not _SNAPSHOT_NAME.match(path.name) or path.is_symlink() or not path.is_dir():
        return False
    marker = path / MARKER_NAME
    if marker.is_file() and not marker.is_symlink():
        return marker.read_bytes()[:64] == _MARKER
    manifest = path / "manifest.json"  # saves of fewshot before markers existed
    if not manifest.is_file() or manifest.is_symlink():
        return False
    try:
        return json.loads(manifest.read_bytes()[: 1 << 20]).get("format") == "fewshot.classifier"
    except (ValueError, AttributeError, RecursionError):
        return False


def _is_our_work_dir(path: Path) -> bool:
    """The work folder carries a marker; an empty one (a save killed right after making it)
    holds nothing to lose."""
    if not path.is_dir() or path.is_symlink():
        return False
    marker = path / MARKER_NAME
    return (marker.is_file() and not marker.is_symlink()) or not any(path.iterdir())


def _check_target(root: Path) -> None:
    """Refuse a folder that is not ours: a foreign ``CURRENT``, or files without any store."""
    if read_pointer(root) is not None:
        return
    foreign = [
        entry.name
        for entry in root.iterdir()
        if not (is_our_snapshot(entry) or (entry.name == WORK_DIR and _is_our_work_dir(entry)))
    ]
    if foreign:
        raise StoreFormatError(
            f"refusing to save into {root}: it holds other files ({foreign[0]!r}) and no "
            f"fewshot store ({POINTER_NAME} is missing); choose an empty or new directory"
        )


def _work_dir(root: Path) -> Path:
    work = root / WORK_DIR
    if work.exists() and not _is_our_work_dir(work):
        raise StoreFormatError(f"refusing to save into {root}: {work} is not fewshot's work folder")
    work.mkdir(exist_ok=True)
    if not (work / MARKER_NAME).exists():
        write_bytes_durably(work / MARKER_NAME, _MARKER)
    return work


def _remove_stale(root: Path, keep: str) -> None:
    """Delete earlier snapshots and the work folder: only what fewshot wrote (under the lock).

    A stale snapshot is first renamed into the work folder, and the work folder's marker is
    deleted last, so a process killed half-way leaves only marked (or empty) debris that the
    next save recognises and finishes deleting.
    """
    work = root / WORK_DIR
    for entry in root.iterdir():
        if entry.name != keep and is_our_snapshot(entry):
            with contextlib.suppress(OSError):
                os.rename(entry, _work_dir(root) / entry.name)
    if not _is_our_work_dir(work):
        return
    for entry in work.iterdir():
        if entry.name == MARKER_NAME:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                entry.unlink()
    with contextlib.suppress(OSError):
        (work / MARKER_NAME).unlink()
        work.rmdir()


def commit_snapshot(
    directory: str | os.PathLike[str], write: Callable[[Path], None], *, locked: bool = False
) -> Path:
    """Write a new snapshot with ``write(folder)``, then switch ``CURRENT`` to it.

    ``directory`` must be absent, empty, a fewshot store, or hold only what a killed save of
    fewshot left. ``locked``: the caller already holds the store's exclusive lock.
    """
    root = Path(directory)
    if root.exists() and (root.is_symlink() or not root.is_dir()):
        raise StoreFormatError(f"cannot save to {root}: it exists and is not a directory")
    root.mkdir(parents=True, exist_ok=True)
    with contextlib.nullcontext() if locked else store_lock(root, exclusive=True):
        _check_target(root)
        work = _work_dir(root)
        snapshot = f"{SNAPSHOT_PREFIX}{time.time_ns()}-{os.getpid()}"
        temp = work / snapshot
        temp.mkdir()
        try:
            write_bytes_durably(temp / MARKER_NAME, _MARKER)
            write_durably(temp, write)
            os.rename(temp, root / snapshot)
        except BaseException:
            shutil.rmtree(temp, ignore_errors=True)
            raise
        fsync_path(root)
        pointer = {"format": POINTER_FORMAT, "snapshot": snapshot}
        write_json_atomic(root / POINTER_NAME, pointer, temp_dir=work)
        _remove_stale(root, keep=snapshot)
    return root / snapshot


@contextlib.contextmanager
def reading_store(directory: str | os.PathLike[str]) -> Iterator[Path]:
    """The live snapshot folder, held under a shared lock so no save deletes it while read."""
    root = Path(directory)
    # Clear errors for missing or foreign directories before locking; the snapshot itself is
    # only resolved under the lock (a concurrent save may replace it in between).
    snapshot_name(root)
    with store_lock(root, exclusive=False):
        yield current_snapshot(root)


@contextlib.contextmanager
def editing_store(directory: str | os.PathLike[str]) -> Iterator[Path | None]:
    """Hold the store's exclusive lock from load to save: yields the live snapshot folder, or
    ``None`` for a new store. Save inside with ``commit_snapshot(..., locked=True)``.

    A directory this call created is removed again if the block fails before anything was saved.
    """
    root = Path(directory)
    if root.exists() and (root.is_symlink() or not root.is_dir()):
        raise StoreFormatError(f"cannot use {root} as a store: it exists and is not a directory")
    created = not root.exists()
    root.mkdir(parents=True, exist_ok=True)
    try:
        with store_lock(root, exclusive=True):
            yield None if read_pointer(root) is None else current_snapshot(root)
    except BaseException:
        if created and not any(root.iterdir()):
            with contextlib.suppress(OSError):
                root.rmdir()
        raise
