"""Install learn2learn 0.2.0 into this Python, building its Cython parts afresh (its shipped C files fail on Python >= 3.11).

Why a script: learn2learn 0.2.0 ships only as a source distribution whose pre-generated C
files do not compile on Python ≥ 3.11 (``longintrepr.h``, learn2learn#413), and its declared
dependencies pull ~50 packages and downgrade numpy. This script

1. skips everything if ``learn2learn`` (with ``data``, ``algorithms.MAML``, ``vision.models``)
   already imports;
2. installs the build tools (Cython, wheel) and the runtime dependencies learn2learn needs at
   import time (``RUNTIME_DEPS``), never touching numpy or torch;
3. downloads the sdist (``pip download --no-deps --no-binary :all: --no-build-isolation``;
   pip's build isolation hangs on these machines), unpacks it, deletes every shipped ``.c``
   file (and the old Cython eggs it carries) and regenerates them with the current Cython
   (its ``setup.py`` compiles the ``.c`` files as they are), and
4. installs it with ``pip install --no-deps --no-build-isolation``, then checks the imports.

    .venv/bin/python scripts/install_learn2learn.py            # idempotent
    .venv/bin/python scripts/install_learn2learn.py --force    # rebuild even if importable

Every pip call uses ``sys.executable -m pip`` and a timeout; it needs only the package
registry (no other network access).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

VERSION = "0.2.0"
#: Import-time dependencies of learn2learn 0.2.0 beyond torch/torchvision/numpy: its
#: ``__init__`` imports ``learn2learn.data`` (utils → requests, tqdm), ``learn2learn.vision``
#: (models/cnn4 → scipy.stats) and ``learn2learn.gym`` (gym; it warns that it is unmaintained
#: and untested with NumPy 2, but imports). Its other declared dependencies (gsutil, qpth,
#: cvxpy, ...) are not needed to import it, and would downgrade numpy.
RUNTIME_DEPS = ["requests", "tqdm", "scipy", "gym"]
BUILD_DEPS = ["Cython>=3", "wheel", "setuptools>=68"]  # = the `learn2learn` extra with RUNTIME_DEPS
CHECK = (
    "import learn2learn as l2l, learn2learn.data, learn2learn.algorithms, "
    "learn2learn.vision.models; "
    f"assert l2l.__version__ == '{VERSION}', l2l.__version__; "
    "l2l.algorithms.MAML; l2l.vision.models.CNN4; l2l.data.TaskDataset; "
    "print(l2l.__version__)"
)


class InstallError(RuntimeError):
    """A step of the install failed; the message names the step and what to try."""


def run(args: list[str], step: str, timeout: float) -> str:
    """Run a command, returning stdout; raise ``InstallError`` naming ``step`` on failure."""
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise InstallError(
            f"{step}: no result after {timeout:.0f} s ({' '.join(args[:6])} ...); is the "
            "package registry reachable? (pip's build isolation is known to hang here, so "
            "this script never uses it)"
        ) from e
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-25:])
        raise InstallError(f"{step} failed (exit {done.returncode}):\n{tail}")
    return done.stdout


def pip(*args: str, step: str, timeout: float) -> str:
    """``sys.executable -m pip ARGS``: always the pip of the Python running this script."""
    return run([sys.executable, "-m", "pip", *args], step, timeout)


def importable() -> str | None:
    """learn2learn's version if it imports fully in a fresh interpreter, else None."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=300
        )
    except subprocess.TimeoutExpired:
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def regenerate_c(src: Path, timeout: float = 300.0) -> list[Path]:
    """Replace the sdist's stale generated C with fresh output of the installed Cython.

    The sdist's ``setup.py`` compiles ``learn2learn/data/*.c`` (made by Cython 0.29, which
    does not build on Python 3.11); it also carries old Cython eggs in ``.eggs/``, removed so
    setuptools cannot pick them up. Returns the regenerated files.
    """
    shutil.rmtree(src / ".eggs", ignore_errors=True)
    package = src / "learn2learn"
    for c in package.rglob("*.c"):
        c.unlink()
    pyx = sorted(package.rglob("*.pyx"))
    if not pyx:
        raise InstallError(f"no .pyx sources under {package}; the sdist layout changed")
    rel = [str(p.relative_to(src)) for p in pyx]
    cmd = [sys.executable, "-m", "cython", "-3", "--directive", "embedsignature=True", *rel]
    try:
        done = subprocess.run(cmd, cwd=src, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise InstallError(f"cython did not finish in {timeout:.0f} s") from e
    if done.returncode != 0:
        raise InstallError(f"cython failed on {rel}:\n{done.stderr[-3000:]}")
    out = [p.with_suffix(".c") for p in pyx]
    missing = [str(c) for c in out if not c.is_file()]
    if missing:
        raise InstallError(f"cython produced no {missing}")
    return out


def install(timeout: float = 600.0, force: bool = False, keep: Path | None = None) -> str:
    """Install learn2learn VERSION (see the module docstring); returns its version."""
    if not force and (version := importable()):
        print(f"learn2learn {version} already imports; nothing to do (use --force to rebuild)")
        return version
    t0 = time.perf_counter()
    pip("install", "-q", *BUILD_DEPS, *RUNTIME_DEPS, step="installing Cython, wheel and "
        f"learn2learn's runtime dependencies {RUNTIME_DEPS}", timeout=timeout)  # fmt: skip
    print(f"[{time.perf_counter() - t0:5.1f} s] build tools and runtime dependencies installed")
    work = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="l2l-build-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        pip("download", "-q", "--no-deps", "--no-binary", ":all:", "--no-build-isolation",
            f"learn2learn=={VERSION}", "-d", str(work),
            step=f"downloading the learn2learn {VERSION} sdist", timeout=timeout)  # fmt: skip
        archives = sorted(work.glob(f"learn2learn-{VERSION}.tar.gz"))
        if not archives:
            raise InstallError(f"pip download left no learn2learn-{VERSION}.tar.gz in {work}")
        with tarfile.open(archives[0]) as tar:
            try:
                tar.extractall(work, filter="data")
            except TypeError:  # Python < 3.10.12 has no extraction filters
                tar.extractall(work)
        src = work / f"learn2learn-{VERSION}"
        regenerate_c(src)
        print(f"[{time.perf_counter() - t0:5.1f} s] C sources regenerated with the current Cython")
        pip("install", "-q", "--no-deps", "--no-build-isolation", str(src),
            step="building and installing learn2learn (Cython → C → extension)",
            timeout=timeout)  # fmt: skip
    finally:
        if keep is None:
            shutil.rmtree(work, ignore_errors=True)
    version = importable()
    if version is None:
        out = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True)
        raise InstallError(f"learn2learn installed but does not import:\n{out.stderr[-2000:]}")
    print(f"[{time.perf_counter() - t0:5.1f} s] learn2learn {version} installed and imports")
    return version


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="rebuild even if importable")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per pip call")
    parser.add_argument("--keep", type=Path, default=None, help="build here and keep it")
    args = parser.parse_args()
    try:
        install(args.timeout, args.force, args.keep)
    except InstallError as e:
        print(f"install_learn2learn: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
