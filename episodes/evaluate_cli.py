"""``fewshot evaluate``: accuracy ± 95% CI of any encoder on fixed seeded episodes of any data.

Without ``--data`` it scores Omniglot as it always has (``--split``, ``--image-size``,
``--within-alphabet``, manifests). ``--data`` takes an image folder, a CSV/JSON file of text
rows, or ``omniglot`` / ``clinc150`` / ``banking77`` (``name:split`` names the split);
``--classes FILE`` or ``--split-fractions`` cut it to one side of a class split, and ``--split``
then names that side (``novel`` by default). Every default comes from ``EVALUATION``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from episodes.config import EVALUATION
from fewshot.metrics import METRIC_NAMES, METRICS

METRIC_METAVAR = "{" + ",".join(METRICS) + "}"
METRIC_HELP = "prototype metric; sqeuclidean is accepted as another name of euclidean"


def add_evaluate_command(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``evaluate``: accuracy ± 95% CI of an encoder on fixed seeded episodes."""
    p = subparsers.add_parser(
        "evaluate",
        help="score an encoder on fixed seeded episodes (mean ± 95%% CI)",
        description="Embed the items of fixed, seeded N-way K-shot episodes with an encoder, "
        "classify queries (nearest prototype, siamese pairs, or transductively), and report "
        "mean accuracy ± 1.96·σ/√E. Omniglot by default; --data for any other data.",
    )
    a = p.add_argument
    e = EVALUATION
    a("--encoder", required=True,
      help="encoder name (efficientnet-lite0, minilm, omniglot-conv4...), a checkpoint folder "
      "such as a train run's RUN/best, or 'pixels' for images")  # fmt: skip
    a("--data", default=None,
      help="an image folder (one sub-folder per class), a .csv/.json of text rows, or "
      "omniglot, clinc150, banking77 (NAME:SPLIT names the split); default: Omniglot")  # fmt: skip
    a("--data-root", default=None, help="folder with the Omniglot zips (and splits/), or the "
      "data root holding clinc150/ and banking77/")  # fmt: skip
    a("--download", action="store_true", help="fetch missing Omniglot / intent files (checked)")
    a("--split", default=None,
      help=f"with --classes/--split-fractions: the class split scored, base, val or novel "
      f"(default {e.class_split}); else the dataset's split: Omniglot evaluation, background, "
      f"vinyals-test/-val (default {e.split}), CLINC150/BANKING77 train, val, test (default "
      f"{e.text_split}), or a JSON object's section")  # fmt: skip
    a("--image-size", type=int, default=None,
      help=f"Omniglot image side (default {e.image_size}); image folders: decode size "
      "(default: each image's own; the encoder resizes)")  # fmt: skip
    a("--text-column", default="text", help="CSV/JSON column of the texts (default: %(default)s)")
    a(
        "--label-column",
        default="label",
        help="CSV/JSON column of the labels (default: %(default)s)",
    )
    a(
        "--group-column",
        default=None,
        help="CSV/JSON column grouping classes (for --within-alphabet)",
    )
    a("--classes", default=None,
      help="class split file: JSON {base: [...], val: [...], novel: [...]} or text with "
      "[base]/[val]/[novel] headers, one class per line")  # fmt: skip
    a("--split-fractions", type=float, nargs="+", default=None, metavar="F",
      help="seeded class split: base val novel fractions (or base novel), e.g. 0.6 0.2 0.2")  # fmt: skip
    a("--split-seed", type=int, default=0, help="seed of --split-fractions (default: %(default)s)")
    a("--split-by-group", action="store_true",
      help="--split-fractions keeps whole groups (alphabets, domains) on one side")  # fmt: skip
    a("--ways", type=int, nargs="+", default=[e.n_way],
      help="classes per episode, several allowed (default: %(default)s)")  # fmt: skip
    a("--shots", type=int, nargs="+", default=[e.k_shot],
      help="support per class, several allowed (default: %(default)s)")  # fmt: skip
    a("--queries", type=int, default=e.q_query, help="queries per class (default: %(default)s)")
    a("--episodes", type=int, default=e.n_episodes,
      help="number of episodes E (default: %(default)s)")  # fmt: skip
    a("--seed", type=int, default=e.seed, help="episode seed (default: %(default)s)")
    a("--within-alphabet", "--within-group", dest="within_alphabet", action="store_true",
      help="draw all classes of a task from one alphabet (group)")  # fmt: skip
    a("--protocol", default=e.protocol, choices=["random", "lake"],
      help="random-drawer episodes, or Lake et al.'s 20-way drawer-pair runs on Omniglot "
      "(default: %(default)s)")  # fmt: skip
    a("--runs", type=int, default=e.lake_runs,
      help="Lake runs, with --protocol lake (default: %(default)s, 20 per evaluation alphabet)")  # fmt: skip
    a("--head", default=e.head, choices=["prototypical", "siamese"],
      help="score by prototypes or by a trained siamese head (default: %(default)s)")  # fmt: skip
    a("--head-weights", default=None,
      help="the siamese head's file (default: head.safetensors in the encoder folder)")  # fmt: skip
    a("--siamese-reduce", default=e.siamese_reduce, choices=["mean", "max"],
      help="per-class reduction of siamese pair probabilities (default: %(default)s)")  # fmt: skip
    a("--transductive", default=e.transductive, choices=["none", "cl2n", "bdcspn", "tim"],
      help="transductive inference over each episode's queries (default: %(default)s)")  # fmt: skip
    a("--metric", default=e.metric, choices=METRIC_NAMES, metavar=METRIC_METAVAR,
      help=METRIC_HELP + " (default: %(default)s)")  # fmt: skip
    a("--transform", default=e.transform, choices=["identity", "l2", "cl2n"],
      help="feature map (default: %(default)s)")  # fmt: skip
    a("--cl2n-split", default=e.cl2n_split,
      help="Omniglot split whose mean feature CL2N subtracts (default: %(default)s); with a "
      "class split, the base classes' mean is used")  # fmt: skip
    a("--manifest", default=None, help="episode manifest: read if it exists, else write it")
    a("--out", default=None, help="JSON report path (a .png plot is written beside it)")
    a("--device", default=None, help="device for the encoder (default: cuda if available)")
    a("--batch-size", type=int, default=e.batch_size,
      help="items per encoder batch (default: %(default)s)")  # fmt: skip
    a("--cache-dir", default=None,
      help="on-disk cache of decoded images (image folders) and Omniglot arrays")  # fmt: skip
    a("--memory-mb", type=int, default=256,
      help="memory budget of decoded images of an image folder (default: %(default)s)")  # fmt: skip
    p.set_defaults(func=run_evaluate)
    return p


def data_arguments(args: argparse.Namespace) -> dict[str, Any]:
    """The ``prepare_data`` keywords a parsed ``evaluate`` command line asks for."""
    class_split = args.classes is not None or args.split_fractions is not None
    options: dict[str, Any] = {
        "split": None if class_split else args.split,
        "classes": args.classes,
        "split_fractions": args.split_fractions,
        "split_seed": args.split_seed,
        "split_by_group": args.split_by_group,
        "class_split": (args.split or EVALUATION.class_split) if class_split else "novel",
        "image_size": args.image_size,
        "root": args.data_root,
        "download": args.download,
        "text_column": args.text_column,
        "label_column": args.label_column,
        "group_column": args.group_column,
        "max_bytes": args.memory_mb * 2**20,
        "disk_cache": None if args.cache_dir is None else Path(args.cache_dir) / "images",
        "cache_dir": args.cache_dir,
    }
    if args.data is None:  # Omniglot, exactly as before --data existed
        options["split"] = args.split or EVALUATION.split
    return options


def run_evaluate(args: argparse.Namespace) -> int:
    from episodes.evaluate_data import (
        base_features,
        omniglot_base,
        prepare_data,
        prepare_encoder,
        prepare_head,
    )
    from episodes.protocols import score_setting
    from episodes.report import format_result, write_report

    data = args.data if args.data is not None else "omniglot"
    dataset, base, fields = prepare_data(data, **data_arguments(args))
    encoder = prepare_encoder(args.encoder, dataset, fields["image_size"], args.device)
    head = prepare_head(args.head, args.metric, args.encoder, args.head_weights)
    fit = None
    if args.transform == "cl2n":
        base = base if base is not None else omniglot_base(dataset, args.cl2n_split, args.download)
        fit = base_features(encoder, base, args.seed, args.batch_size)
    combos = [(w, s) for w in args.ways for s in args.shots]
    episodes = args.runs if args.protocol == "lake" else args.episodes
    for n_way, k_shot in combos:
        report = score_setting(
            encoder, dataset, fields["split"], fields["image_size"], n_way, k_shot,
            args.queries, episodes, args.seed, args.within_alphabet, head=head,
            transform=args.transform, fit_features=fit, batch_size=args.batch_size,
            manifest=_per_combo(args.manifest, n_way, k_shot, len(combos)),
            protocol=args.protocol, transductive=args.transductive,
            siamese_reduce=args.siamese_reduce,
        )  # fmt: skip
        extra = {k: v for k, v in fields.items() if k not in ("split", "image_size")}
        report["protocol"].update(extra)
        print(format_result(report), flush=True)
        out = _per_combo(args.out, n_way, k_shot, len(combos))
        if out:
            write_report(report, out)
    return 0


def _per_combo(path: str | None, n_way: int, k_shot: int, n: int) -> str | None:
    """``report.json`` → ``report-20w1s.json`` when several (ways, shots) are evaluated."""
    if path is None or n == 1:
        return path
    p = Path(path)
    return str(p.with_name(f"{p.stem}-{n_way}w{k_shot}s{p.suffix}"))
