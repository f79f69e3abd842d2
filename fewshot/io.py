"""Crash-safe, versioned files: checksums, atomic JSON, and snapshot directories behind a pointer.

A store directory holds complete snapshots and a small ``CURRENT`` file naming the live one.
A save writes a new snapshot under a temporary name, renames it into place, then replaces
``CURRENT`` with ``os.replace`` (atomic on POSIX), so a process killed at any moment leaves
the previous save loadable. Nothing here unpickles.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fewshot.errors import StoreFormatError

POINTER_NAME = "CURRENT"
POINTER_FORMAT = "fewshot.store"
SNAPSHOT_PREFIX = "snapshot-"
TEMP_PREFIX = ".tmp-"


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


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale(directory: Path, keep: str) -> None:
    """Delete unreferenced snapshots and temporary folders left by dead processes."""
    for entry in directory.iterdir():
        name = entry.name
        if name == keep:
            continue
        if name.startswith(SNAPSHOT_PREFIX):
            shutil.rmtree(entry, ignore_errors=True)
        elif name.startswith(TEMP_PREFIX):
            parts = name.split(".")
            pid = int(parts[-2]) if len(parts) >= 3 and parts[-2].isdigit() else None
            if pid is None or pid == os.getpid() or not _pid_alive(pid):
                if entry.is_dir():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    with contextlib.suppress(FileNotFoundError):
                        entry.unlink()


def save_snapshot(directory: str | os.PathLike[str], write: Callable[[Path], None]) -> Path:
    """Write a new snapshot of a store with ``write(folder)``, then switch ``CURRENT`` to it.

    ``directory`` must be absent, empty, or an existing store; anything else is refused so
    that a save never deletes a user's unrelated files.
    """
    root = Path(directory)
    if root.exists() and not root.is_dir():
        raise StoreFormatError(f"cannot save to {root}: it exists and is not a directory")
    root.mkdir(parents=True, exist_ok=True)
    if any(root.iterdir()) and not (root / POINTER_NAME).is_file():
        raise StoreFormatError(
            f"refusing to save into {root}: it is not empty and holds no fewshot store "
            f"({POINTER_NAME} is missing); choose an empty or new directory"
        )
    stamp = f"{time.time_ns()}"
    snapshot = f"{SNAPSHOT_PREFIX}{stamp}-{os.getpid()}"
    temp = root / f"{TEMP_PREFIX}{snapshot}.{os.getpid()}.d"
    temp.mkdir()
    try:
        write(temp)
        for entry in temp.rglob("*"):
            if entry.is_file():
                fsync_path(entry)
        fsync_path(temp)
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
    snapshot = root / name
    if not snapshot.is_dir():
        raise StoreFormatError(f"{pointer_path} points to {snapshot}, which is missing")
    return snapshot


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
        write(temp)
        for entry in temp.rglob("*"):
            if entry.is_file():
                fsync_path(entry)
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
