"""Write Omniglot alphabets out as an ordinary image folder (one sub-folder per character).

A real folder of real images to try ``fewshot evaluate --data FOLDER`` on, as a user with their
own photos would: the PNGs are copied byte for byte from the upstream zip, nothing is resized.

    python scripts/omniglot_folder.py --alphabets Kannada --out kannada/
    fewshot evaluate --data kannada/ --encoder omniglot-conv4 --ways 5 --shots 1 --queries 5 \\
        --episodes 60 --seed 0 --out report.json
"""

from __future__ import annotations

import argparse
import sys
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fewshot.data.sources import data_root


def export(zip_path: Path, alphabets: list[str], out: Path) -> int:
    """Copy the PNGs of ``alphabets`` to ``out/<Alphabet>_<characterNN>/``; returns the count."""
    written = 0
    with zipfile.ZipFile(zip_path) as zf:
        names = [n for n in zf.namelist() if n.endswith(".png")]
        known = sorted({n.split("/")[1] for n in names})
        missing = sorted(set(alphabets) - set(known))
        if missing:
            sys.exit(f"alphabets {missing} are not in {zip_path.name}; choose from {known}")
        for name in names:
            _, alphabet, character, file = name.split("/")
            if alphabet in alphabets:
                target = out / f"{alphabet}_{character}" / file
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(zf.read(name))
                written += 1
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alphabets", nargs="+", required=True, help="e.g. Kannada Tengwar")
    parser.add_argument("--split", default="evaluation", choices=["background", "evaluation"])
    parser.add_argument("--data-root", default=None, help="folder holding omniglot/")
    parser.add_argument("--out", required=True, help="folder to write")
    args = parser.parse_args()
    base = data_root(args.data_root)
    folder = base if (base / "images_background.zip").is_file() else base / "omniglot"
    count = export(folder / f"images_{args.split}.zip", args.alphabets, Path(args.out))
    print(f"wrote {count} images to {args.out}")


if __name__ == "__main__":
    main()
