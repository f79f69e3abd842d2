"""Crash-safe, versioned files: fsync, atomic writes, JSON, checksums, and paths kept inside a folder.

Everything a saved store or checkpoint reads goes through here, so every path a manifest names
is checked to stay inside its folder (no ``..``, no absolute path, no symlink out) and every
file it reads is checked against the SHA-256 recorded when it was written. Nothing here
unpickles.
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

import numpy as np

from fewshot.errors import InputError, StoreFormatError, StoreWriteError

TEMP_PREFIX = ".tmp-"
#: JSON files a store reads (manifests, pointers, texts) are refused beyond this size: a
#: manifest lists every class, so even 10⁶ classes stay far below it.
MAX_JSON_BYTES = 1 << 30


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


def json_bytes(obj: Any) -> bytes:
    """``obj`` as UTF-8 JSON; a string that cannot be encoded (a lone surrogate) is an InputError."""
    try:
        return json.dumps(obj, indent=2, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InputError(f"cannot write JSON: a string is not valid Unicode text ({exc})") from exc


def write_json_atomic(path: str | os.PathLike[str], obj: Any, temp_dir: Path | None = None) -> None:
    """Replace ``path`` with ``obj`` as JSON, atomically: readers see the old or the new file.

    The temporary file is written in ``temp_dir`` (default: beside ``path``; same filesystem).
    """
    write_bytes_atomic(path, json_bytes(obj), temp_dir)


def write_bytes_atomic(
    path: str | os.PathLike[str], data: bytes, temp_dir: Path | None = None
) -> None:
    """Replace ``path`` with ``data``, atomically and durably (see ``write_json_atomic``)."""
    path = Path(path)
    folder = temp_dir if temp_dir is not None else path.parent
    temp = folder / f"{TEMP_PREFIX}{path.name}.{os.getpid()}.{time.monotonic_ns()}"
    try:
        write_bytes_durably(temp, data)
        os.replace(temp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
    fsync_path(path.parent)


def read_json(path: str | os.PathLike[str], what: str) -> Any:
    """Load a JSON file, turning absence, corruption, excess size or nesting into a
    StoreFormatError naming the file."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_JSON_BYTES + 1)
    except FileNotFoundError as exc:
        raise StoreFormatError(f"{what}: missing file {path}") from exc
    except (IsADirectoryError, NotADirectoryError, PermissionError) as exc:
        raise StoreFormatError(f"{what}: cannot read {path} ({exc})") from exc
    if len(data) > MAX_JSON_BYTES:
        raise StoreFormatError(f"{what}: {path} is larger than {MAX_JSON_BYTES} bytes")
    try:
        return json.loads(data.decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise StoreFormatError(
            f"{what}: {path} is not valid JSON ({exc}); the file is corrupt"
        ) from exc
    except RecursionError as exc:
        raise StoreFormatError(f"{what}: {path} is nested too deeply to be one of ours") from exc


def contained(folder: Path, name: object, what: str) -> Path:
    """``folder/name`` for a relative ``name`` that stays inside ``folder``: no absolute path,
    no ``..``, no symlink anywhere on the way; otherwise a StoreFormatError naming it."""
    if not isinstance(name, str) or not name or len(name) > 255 or "\x00" in name:
        raise StoreFormatError(f"{what}: {name!r} is not a file name inside {folder}")
    relative = Path(name)
    if relative.is_absolute() or ".." in relative.parts or name.startswith("~"):
        raise StoreFormatError(f"{what}: names a file outside {folder}: {name!r}")
    path = folder
    for part in relative.parts:
        path = path / part
        if path.is_symlink():
            raise StoreFormatError(f"{what}: {path} is a symbolic link; stores never hold links")
    return path


def verify_checksums(directory: Path, expected: object, what: str) -> None:
    """Check every listed file stays inside ``directory``, exists and has the recorded SHA-256."""
    if not isinstance(expected, dict):
        raise StoreFormatError(f"{what}: the checksum list must be an object of name → sha256")
    for name, digest in expected.items():
        path = contained(directory, name, what)
        if not isinstance(digest, str) or len(digest) != 64:
            raise StoreFormatError(f"{what}: the checksum of {name!r} is not a SHA-256 hex digest")
        if not path.is_file():
            raise StoreFormatError(f"{what}: missing file {path}")
        actual = sha256_file(path)
        if actual != digest:
            raise StoreFormatError(
                f"{what}: checksum mismatch for {path} (expected {digest[:12]}…, found "
                f"{actual[:12]}…); the file is corrupt or was changed after saving"
            )


def umask() -> int:
    """The process's file-creation mask, read without changing it (``os.umask`` can only be read
    by setting it, which races with other threads); 0o022 where ``/proc`` does not say."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022


def write_durably(folder: Path, write: Callable[[Path], None]) -> None:
    """``write(folder)``, then give every file in it the usual permissions, fsync it, and fsync
    the folder itself (before a rename).

    A failure to write (a full disk, a file-size limit) becomes a ``StoreWriteError``.
    """
    # the mode a plain open() gives: writers that go through a private temporary file
    # (safetensors does) leave 0o600, unreadable to other users, services and wheels
    mode = 0o666 & ~umask()
    try:
        write(folder)
        for entry in folder.rglob("*"):
            if entry.is_file() and not entry.is_symlink():
                os.chmod(entry, mode)
                fsync_path(entry)
        fsync_path(folder)
    except OSError as exc:
        if isinstance(exc, StoreWriteError):
            raise
        raise StoreWriteError(f"could not write {folder.parent}: {exc.strerror or exc}") from exc


def save_npy_best_effort(path: Path, array: np.ndarray) -> bool:
    """Write a cache array (``.npy``, never pickled) atomically; ``False`` instead of an error
    when it cannot be written (a read-only or full cache only costs recomputing it)."""
    temp = path.with_name(f"{TEMP_PREFIX}{path.name}.{os.getpid()}.{time.monotonic_ns()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(temp, "wb") as handle:
            np.save(handle, array, allow_pickle=False)
        os.replace(temp, path)
        return True
    except OSError:
        with contextlib.suppress(OSError):
            temp.unlink()
        return False


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


def replace_directory(
    target: str | os.PathLike[str], write: Callable[[Path], None], owned: Callable[[Path], bool]
) -> Path:
    """Write a plain directory (e.g. an encoder checkpoint) under a temporary name, then rename
    it to ``target``. An existing ``target`` is replaced only if it is empty or ``owned(target)``
    says it is one of ours; anything else is refused, so no user folder is ever deleted.
    """
    target = Path(target)
    if target.exists() and not (target.is_dir() and not target.is_symlink()):
        raise StoreFormatError(f"cannot write to {target}: it exists and is not a directory")
    if target.is_dir() and any(target.iterdir()) and not owned(target):
        raise StoreFormatError(
            f"refusing to replace {target}: it holds files that fewshot did not write; "
            "choose a new or empty directory"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f"{TEMP_PREFIX}{target.name}.{os.getpid()}.{time.monotonic_ns()}.d")
    temp.mkdir()
    try:
        write_durably(temp, write)
        old = None
        if target.exists():
            old = target.with_name(
                f"{TEMP_PREFIX}{target.name}.{os.getpid()}.{time.monotonic_ns()}.old"
            )
            os.rename(target, old)
        os.rename(temp, target)
        fsync_path(target.parent)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return target
