"""Where dataset files live: a local data root, or a pinned upstream URL checked by SHA-256.

Every loader reads from a local root first; downloading is an explicit opt-in, and a download
is kept only when its bytes match the checksum recorded here, so a moved or altered upstream
file fails loudly instead of silently changing a benchmark.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from fewshot.errors import FewShotError

DATA_ENV = "FEWSHOT_DATA"
"""Environment variable naming the data root (the folder that holds ``clinc150/`` etc.)."""

# fewshot/data/sources.py -> parents[2] is the repository root; its sibling shared/data is
# where a development checkout finds the project's packed benchmark data.
REPO_DATA_ROOT = Path(__file__).resolve().parents[2].parent / "shared" / "data"
CACHE_DATA_ROOT = Path.home() / ".cache" / "fewshot" / "data"


class DatasetError(FewShotError, ValueError):
    """A dataset file is missing, corrupt, foreign, or failed its checksum; the message names it."""


class DatasetNotFoundError(DatasetError, FileNotFoundError):
    """No data root or dataset folder exists where one was asked for or expected."""


@dataclass(frozen=True)
class RemoteFile:
    """One upstream file: its pinned URL, its SHA-256, and where it goes under a dataset folder."""

    relpath: str
    url: str
    sha256: str


def data_root(root: str | os.PathLike[str] | None = None, *, create: bool = False) -> Path:
    """Resolve the data root: ``root`` if given, else ``$FEWSHOT_DATA``, else ``../shared/data``
    beside the repository, else ``~/.cache/fewshot/data``.

    With ``create`` (used by downloads) a missing chosen folder is made, and the cache folder is
    the fallback. Otherwise raises DatasetNotFoundError naming the places looked at.
    """
    for source, value in (("root", root), (f"${DATA_ENV}", os.environ.get(DATA_ENV) or None)):
        if value is None:
            continue
        path = Path(value).expanduser()
        if create:
            path.mkdir(parents=True, exist_ok=True)
        if not path.is_dir():
            raise DatasetNotFoundError(
                f"{source}={str(value)!r} is not a directory; point it at the folder that holds "
                "the dataset folders (e.g. clinc150/), or pass download=True to fetch them there."
            )
        return path
    if REPO_DATA_ROOT.is_dir():
        return REPO_DATA_ROOT
    if create or CACHE_DATA_ROOT.is_dir():
        CACHE_DATA_ROOT.mkdir(parents=True, exist_ok=True)
        return CACHE_DATA_ROOT
    raise DatasetNotFoundError(
        f"no data root found: pass root=..., set ${DATA_ENV} to the folder that holds the dataset "
        f"folders, put them at {REPO_DATA_ROOT}, or pass download=True to fetch them into "
        f"{CACHE_DATA_ROOT}."
    )


def download(remote: RemoteFile, folder: Path, *, timeout: float = 60.0) -> Path:
    """Fetch ``remote`` into ``folder/remote.relpath``, keeping it only if its SHA-256 matches.

    The bytes go to a temporary file beside the target and are renamed into place after the
    check, so an interrupted or tampered download never leaves a file that looks valid.
    """
    target = folder / remote.relpath
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        try:
            with (
                os.fdopen(fd, "wb") as out,
                urllib.request.urlopen(remote.url, timeout=timeout) as r,
            ):
                for chunk in iter(lambda: r.read(1 << 20), b""):
                    digest.update(chunk)
                    out.write(chunk)
        except OSError as err:  # URLError, HTTPError, timeouts, a full disk
            raise DatasetError(
                f"could not download {remote.url} ({err}); check the network, or put the file "
                f"at {target} by hand (expected sha256 {remote.sha256})."
            ) from err
        if digest.hexdigest() != remote.sha256:
            raise DatasetError(
                f"checksum mismatch for {remote.url}: expected sha256 {remote.sha256}, got "
                f"{digest.hexdigest()}; the upstream file changed or the download was altered. "
                f"Fetch it by hand from a trusted copy into {target}."
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def ensure_files(folder: Path, files: tuple[RemoteFile, ...], *, download_missing: bool) -> None:
    """Check that every file of a dataset exists under ``folder``; download the missing ones if
    asked, otherwise raise DatasetNotFoundError listing them."""
    missing = [f for f in files if not (folder / f.relpath).is_file()]
    if not missing:
        return
    if not download_missing:
        names = ", ".join(f.relpath for f in missing)
        raise DatasetNotFoundError(
            f"{folder} lacks {names}; put the dataset there, pass another root=..., or pass "
            "download=True to fetch the pinned upstream files (checksums verified)."
        )
    for remote in missing:
        download(remote, folder)
