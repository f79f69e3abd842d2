"""The Omniglot tables, each beside its published numbers: the Vinyals split (5/20-way ×
1/5-shot, 28×28) and within-alphabet 20-way 1-shot on the 20 evaluation alphabets (105×105),
the latter under both protocols: random-drawer episodes and Lake et al.'s drawer-pair runs
(the task Koch's siamese net, BPL and people were measured on; see ``episodes.lake``).

python benchmarks/omniglot_tables.py            # both tables: 1000 episodes, 15 queries, seed 0
python benchmarks/omniglot_tables.py --quick    # 100 episodes per setting: a smoke run
python benchmarks/omniglot_tables.py --vinyals-encoder runs/vinyals/best --within-encoder runs/bg/best
python benchmarks/omniglot_tables.py --tables within --protocols lake --runs 400

Encoders are scored as they are; the training behind each (command, hardware, time) is read
from its checkpoint and printed beside it. Defaults: the Conv-4 trained on this 2-core CPU on
vinyals-train (``benchmarks/models/omniglot-vinyals-conv4-cpu``) and the shipped
``omniglot-conv4`` (background alphabets only). Raw pixels are the floor of both tables.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import load_average, machine, write_json
from episodes.evaluate import pixel_encoder
from episodes.protocols import (
    PUBLISHED_LAKE,
    PUBLISHED_VINYALS,
    VINYALS_SETTINGS,
    score_setting,
    setting_name,
)
from episodes.report import format_result
from fewshot.data.omniglot import Omniglot
from fewshot.data.sources import data_root
from fewshot.encoders import SHIPPED_CHECKPOINTS, load_encoder

HERE = Path(__file__).resolve().parent
VINYALS_CPU_MODEL = HERE / "models" / "omniglot-vinyals-conv4-cpu"


def training_of(spec: str) -> dict[str, Any]:
    """What a checkpoint says about its training: the config, best episode and, where the run
    left a ``summary.json`` beside or inside the checkpoint, its time and images/s."""
    folder = SHIPPED_CHECKPOINTS.get(spec.lower(), Path(spec))  # a shipped name, or a folder
    if not (folder / "encoder.json").is_file():
        return {}
    extra = json.loads((folder / "encoder.json").read_text()).get("extra", {})
    info: dict[str, Any] = {k: extra[k] for k in ("episode", "val_acc") if k in extra}
    info["config"] = extra.get("training", {})
    for candidate in (folder / "summary.json", folder.parent / "summary.json"):
        if candidate.is_file():
            summary = json.loads(candidate.read_text())
            info |= {k: v for k, v in summary.items() if k != "history"}
            break
    return info


def describe_training(info: dict[str, Any]) -> str:
    """A short label: split, episodes, training time and device."""
    cfg = info.get("config", {})
    parts = [f"{cfg.get('split', '?')}, {cfg.get('n_way', '?')}-way"]
    if "episode" in info:
        parts.append(f"best val at episode {info['episode']:,}")
    if info.get("train_seconds"):
        parts.append(f"{info['train_seconds'] / 60:.0f} min training on {info.get('device', '?')}")
    if info.get("hardware"):  # written beside a committed checkpoint, e.g. "this 2-core CPU"
        parts.append(str(info["hardware"]))
    return "; ".join(parts)


def score_table(
    root: str, spec: str, split: str, image_size: int, settings: tuple[tuple[int, int], ...],
    within_alphabet: bool, episodes: int, seed: int, pixels: bool,
    protocols: tuple[str, ...] = ("random",), runs: int = 400,
) -> dict[str, Any]:  # fmt: skip
    """Score ``spec`` (and raw pixels) on each (ways, shots) of ``settings``, 15 queries, under
    each protocol (``lake``: ``runs`` drawer-pair runs, keyed ``"20w1s-lake"``):
    ``{"encoder", "training", "rows": {model: {"20w1s": report, ...}}}``."""
    data = Omniglot(root, split, image_size=image_size)
    encoders = {"ours": load_encoder(spec)}
    if pixels:
        encoders["raw pixels"] = pixel_encoder(image_size)
    rows: dict[str, Any] = {}
    for name, encoder in encoders.items():
        rows[name] = {}
        for (n_way, k_shot), protocol in ((s, p) for s in settings for p in protocols):
            report = score_setting(
                encoder, data, split, image_size, n_way, k_shot, 15,
                runs if protocol == "lake" else episodes, seed,
                within_alphabet=within_alphabet, protocol=protocol,
            )  # fmt: skip
            print(f"  {name}: {format_result(report)}", flush=True)
            report.pop("per_episode")
            suffix = "-lake" if protocol == "lake" else ""
            rows[name][setting_name(n_way, k_shot) + suffix] = report
    return {"encoder": spec, "training": training_of(spec), "rows": rows}


def pct(report: dict[str, Any]) -> str:
    a = report["accuracy"]
    return f"{100 * a['mean']:.2f} ± {100 * a['ci95']:.2f}"


def print_tables(result: dict[str, Any], episodes: int, seed: int) -> None:
    if "vinyals" in result:
        v = result["vinyals"]
        names = [setting_name(w, s) for w, s in VINYALS_SETTINGS]
        print(f"\nVinyals split, 28×28, {episodes} episodes, 15 queries, seed {seed}")
        print(f"ours = {v['encoder']} ({describe_training(v['training'])})")
        print("| model | " + " | ".join(names) + " |")
        print("|---|" + "---|" * len(names))
        for row, cells in v["rows"].items():
            print(f"| {row} | " + " | ".join(pct(cells[n]) for n in names) + " |")
        for paper, numbers in PUBLISHED_VINYALS.items():
            print(f"| {paper} | " + " | ".join(f"{numbers[n]:.1f}" for n in names) + " |")
        ours = v["rows"]["ours"]
        gaps = {n: round(100 * ours[n]["accuracy"]["mean"] - PUBLISHED_VINYALS[_PN][n], 2)
                for n in names}  # fmt: skip
        print(f"ours − ProtoNet (points): {gaps}")
    if "within_alphabet" in result:
        w = result["within_alphabet"]
        keys = [k for k in ("20w1s", "20w1s-lake") if k in next(iter(w["rows"].values()))]
        heads = {"20w1s": f"random drawers ({episodes} episodes, 15 queries)",
                 "20w1s-lake": f"Lake's drawer pairs ({w.get('runs')} runs)"}  # fmt: skip
        print(f"\nWithin-alphabet 20-way 1-shot, 20 evaluation alphabets, 105×105, seed {seed}")
        print(f"ours = {w['encoder']} ({describe_training(w['training'])})")
        print("| model | " + " | ".join(heads[k] for k in keys) + " |")
        print("|---|" + "---|" * len(keys))
        for row, cells in w["rows"].items():
            print(f"| {row} | " + " | ".join(pct(cells[k]) for k in keys) + " |")
        for ref, number in PUBLISHED_LAKE.items():  # all measured on Lake's protocol
            published = ["–" if k == "20w1s" else f"{number:.1f}" for k in keys]
            print(f"| {ref} | " + " | ".join(published) + " |")


_PN = "Prototypical Networks (Snell et al. 2017)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", default=None, help="Omniglot folder (zips + splits/)")
    parser.add_argument("--vinyals-encoder", default=str(VINYALS_CPU_MODEL),
                        help="encoder for the Vinyals table (name or checkpoint folder)")  # fmt: skip
    parser.add_argument("--within-encoder", default="omniglot-conv4",
                        help="encoder for within-alphabet 20w1s (background-trained)")  # fmt: skip
    parser.add_argument("--tables", nargs="+", default=["vinyals", "within"],
                        choices=["vinyals", "within"], help="which tables")  # fmt: skip
    parser.add_argument("--episodes", type=int, default=1000, help="episodes per setting")
    parser.add_argument("--protocols", nargs="+", default=["random", "lake"],
                        choices=["random", "lake"], help="protocols of the within table")  # fmt: skip
    parser.add_argument("--runs", type=int, default=400, help="Lake runs (within table)")
    parser.add_argument("--seed", type=int, default=0, help="episode seed")
    parser.add_argument("--no-pixels", action="store_true", help="skip the raw-pixel rows")
    parser.add_argument("--quick", action="store_true", help="100 episodes per setting")
    parser.add_argument("--name", default=None, help="JSON name under benchmarks/results/")
    args = parser.parse_args()
    episodes = 100 if args.quick else args.episodes
    runs = 100 if args.quick else args.runs
    root = args.data_root or str(data_root() / "omniglot")
    started = time.perf_counter()
    result: dict[str, Any] = {
        "question": "Omniglot tables beside the published numbers",
        "command": " ".join(["python", *sys.argv]),
        "protocol": {"episodes": episodes, "queries": 15, "seed": args.seed, "lake_runs": runs},
        "machine": machine(),
        "load_average_start": load_average(),
        "published": {"vinyals": PUBLISHED_VINYALS, "lake_protocol": PUBLISHED_LAKE},
    }
    pixels = not args.no_pixels
    if "vinyals" in args.tables:
        print(f"Vinyals split: {args.vinyals_encoder}", flush=True)
        result["vinyals"] = score_table(
            root, args.vinyals_encoder, "vinyals-test", 28, VINYALS_SETTINGS, False, episodes,
            args.seed, pixels,
        )  # fmt: skip
    if "within" in args.tables:
        print(f"Within-alphabet 20w1s: {args.within_encoder}", flush=True)
        result["within_alphabet"] = score_table(
            root, args.within_encoder, "evaluation", 105, ((20, 1),), True, episodes, args.seed,
            pixels, tuple(args.protocols), runs,
        )  # fmt: skip
        result["within_alphabet"]["runs"] = runs
    result["seconds"] = round(time.perf_counter() - started, 1)
    result["load_average_end"] = load_average()
    print_tables(result, episodes, args.seed)
    name = args.name or ("omniglot_tables_quick" if args.quick else "omniglot_tables")
    print(f"\nwrote {write_json(name, result)} ({result['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
