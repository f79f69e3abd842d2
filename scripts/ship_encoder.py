"""Copy a trained encoder checkpoint (a ``fewshot train`` run's ``RUN/best``) into the package as
a shipped encoder, ``fewshot/assets/NAME``, that ``fewshot.load_encoder(NAME)`` finds once NAME
is listed in ``fewshot.encoders.named.SHIPPED_CHECKPOINTS``.

The training record inside ``encoder.json`` keeps every setting; paths of the machine it was
trained on (data root, run folder, data files) become their last component, so the package
carries nothing machine-local. The weights are copied byte for byte and checked to load.

    python scripts/ship_encoder.py runs/intents/best minilm-intents
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path
from typing import Any

ASSETS = Path(__file__).resolve().parent.parent / "fewshot" / "assets"


def portable(value: Any) -> Any:
    """``value`` with absolute or home-relative paths reduced to their last component."""
    if isinstance(value, str) and value.startswith(("/", "~")):
        return Path(value).name
    if isinstance(value, list):
        return [portable(v) for v in value]
    if isinstance(value, dict):
        return {k: portable(v) for k, v in value.items()}
    return value


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoint", type=Path, help="a checkpoint folder (RUN/best)")
    p.add_argument("name", help="the shipped name, e.g. minilm-intents")
    args = p.parse_args()
    config = json.loads((args.checkpoint / "encoder.json").read_text())
    config["extra"] = portable(config.get("extra", {}))
    config["spec"] = portable(config.get("spec", {}))
    target = ASSETS / args.name
    target.mkdir(parents=True, exist_ok=True)
    for file in args.checkpoint.iterdir():
        if file.is_file() and file.name != "encoder.json":
            shutil.copyfile(file, target / file.name)
            (target / file.name).chmod(0o644)
    (target / "encoder.json").write_text(json.dumps(config, indent=2) + "\n")
    from fewshot import load_encoder

    encoder = load_encoder(target)
    size = sum(f.stat().st_size for f in target.iterdir()) / 2**20
    print(f"{target}: {encoder.dim}-d, {size:.2f} MB; list {args.name!r} in SHIPPED_CHECKPOINTS")


if __name__ == "__main__":
    main()
