"""``fewshot train`` and ``fewshot evaluate`` subcommands (argparse), also ``python -m episodes``.

The fewshot CLI finds these through the ``fewshot.commands`` entry-point group, so fewshot
never imports episodes.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def _omniglot_root(args: argparse.Namespace) -> str:
    """``--data-root``, else ``omniglot/`` under fewshot's data root ($FEWSHOT_DATA, then
    ../shared/data beside the repository, then ~/.cache/fewshot/data)."""
    if args.data_root:
        return args.data_root
    from fewshot.data.sources import data_root

    return str(data_root(create=True) / "omniglot")


def add_train_command(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``train``: ProtoNet training of a backbone on Omniglot episodes."""
    p = subparsers.add_parser(
        "train",
        help="train a backbone on N-way K-shot episodes (prototypical loss)",
        description="Train a Conv-4 / ResNet-12 backbone with the prototypical loss on "
        "Omniglot episodes; keeps the best checkpoint by validation accuracy.",
    )
    a = p.add_argument
    a("--data-root", default=None, help="folder with the Omniglot zips (and splits/)")
    a("--download", action="store_true", help="fetch missing Omniglot zips (md5-checked)")
    a("--out", required=True, help="run folder: best/ (encoder checkpoint), state/, summary.json")
    a("--split", default="background", help="training split: background or vinyals-train/-trainval")
    a("--val-split", default=None, help="validation split (default: hold out drawers of --split)")
    a("--holdout-drawers", type=int, default=4, help="drawers per class held out for validation")
    a("--val-alphabets", type=int, default=0,
      help="validate on the last N alphabets of --split instead (never trained on)")  # fmt: skip
    a("--image-size", type=int, default=28, help="image side in pixels (28 or 105)")
    a("--no-rotations", action="store_true", help="do not add 90/180/270° rotations as classes")
    a("--backbone", default="conv4", choices=["conv4", "resnet12"], help="network to train")
    a("--hidden", type=int, default=None, help="Conv-4 channels per block (default 64)")
    a("--widths", type=int, nargs=4, default=None, help="ResNet-12 block widths")
    a("--metric", default="sqeuclidean", choices=["sqeuclidean", "cosine"], help="head metric")
    a("--init", default=None,
      help="transfer: start from this encoder (shipped name such as omniglot-conv4, or a "
           "checkpoint folder) instead of a fresh --backbone")  # fmt: skip
    a("--freeze-stages", type=int, default=0,
      help="transfer: keep the first N blocks fixed (weights and BatchNorm statistics)")  # fmt: skip
    a("--projection", type=int, default=None, metavar="DIM",
      help="transfer: freeze the whole encoder and train only a linear projection to DIM")  # fmt: skip
    a("--ways", type=int, default=60, help="classes per training episode")
    a("--shots", type=int, default=1, help="support examples per class in training")
    a("--queries", type=int, default=5, help="query examples per class in training")
    a("--episodes", type=int, default=10000, help="training episodes")
    a("--lr", type=float, default=1e-3, help="Adam learning rate")
    a("--lr-step", type=int, default=2000, help="episodes between learning-rate decays")
    a("--lr-gamma", type=float, default=0.5, help="learning-rate decay factor")
    a("--within-alphabet", type=float, default=0.0, help="fraction of within-alphabet episodes")
    a("--no-augment", action="store_true", help="disable random affine augmentation")
    a("--val-ways", type=int, default=20, help="classes per validation episode")
    a("--val-shots", type=int, default=1, help="support examples per validation class")
    a("--val-queries", type=int, default=3, help="queries per validation class")
    a("--val-episodes", type=int, default=200, help="fixed validation episodes")
    a("--val-every", type=int, default=500, help="validate every this many episodes")
    a("--val-across", action="store_true", help="validate across alphabets (default: within)")
    a("--seed", type=int, default=0, help="seed of episodes, augmentation and initialisation")
    a("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    a("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    a("--no-amp", action="store_true", help="disable bf16 autocast on CUDA")
    a("--max-minutes", type=float, default=None, help="stop (and validate) after this long")
    a("--stop-at", type=int, default=None,
      help="stop (and validate) at this episode, keeping the --episodes lr schedule")  # fmt: skip
    a("--resume", action="store_true", help="continue from --out/state if present")
    a("--cache-dir", default=None, help="decoded-image cache (default ~/.cache/fewshot)")
    a("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_train)
    return p


def run_train(args: argparse.Namespace) -> int:
    from episodes.train import TrainConfig, train

    backbone_kwargs = {}
    if args.hidden is not None:
        backbone_kwargs["hidden"] = args.hidden
    if args.widths is not None:
        backbone_kwargs["widths"] = list(args.widths)
    config = TrainConfig(
        backbone_kwargs=backbone_kwargs,
        data_root=_omniglot_root(args), download=args.download, out=args.out,
        split=args.split, val_split=args.val_split,
        image_size=args.image_size, rotations=not args.no_rotations, backbone=args.backbone,
        metric=args.metric, n_way=args.ways, k_shot=args.shots, q_query=args.queries,
        episodes=args.episodes, lr=args.lr, lr_step=args.lr_step, lr_gamma=args.lr_gamma,
        within_alphabet=args.within_alphabet, augment=not args.no_augment,
        holdout_drawers=args.holdout_drawers, val_alphabets=args.val_alphabets,
        val_way=args.val_ways, val_shot=args.val_shots,
        val_query=args.val_queries, val_episodes=args.val_episodes, val_every=args.val_every,
        val_within_alphabet=not args.val_across,
        seed=args.seed, device=args.device, amp=not args.no_amp, threads=args.threads,
        max_minutes=args.max_minutes, stop_at=args.stop_at, cache_dir=args.cache_dir,
        init=args.init, freeze_stages=args.freeze_stages, projection=args.projection,
    )  # fmt: skip
    summary = train(config, resume=args.resume, progress=not args.quiet)
    print(json.dumps({k: v for k, v in summary.items() if k != "history"}))
    return 0


def add_evaluate_command(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``evaluate``: accuracy ± 95% CI of an encoder on fixed seeded episodes."""
    p = subparsers.add_parser(
        "evaluate",
        help="score an encoder on fixed seeded episodes (mean ± 95%% CI)",
        description="Embed the images of fixed, seeded N-way K-shot episodes with an encoder, "
        "classify queries by nearest prototype, and report mean accuracy ± 1.96·σ/√E.",
    )
    a = p.add_argument
    a("--encoder", required=True, help="encoder name or checkpoint folder, or 'pixels'")
    a("--data-root", default=None, help="folder with the Omniglot zips (and splits/)")
    a("--download", action="store_true", help="fetch missing Omniglot zips (md5-checked)")
    a("--split", default="evaluation", help="evaluation, background or vinyals-test/-val")
    a("--image-size", type=int, default=105, help="side of the images episodes are drawn from")
    a("--ways", type=int, nargs="+", default=[20], help="classes per episode (several allowed)")
    a("--shots", type=int, nargs="+", default=[1], help="support per class (several allowed)")
    a("--queries", type=int, default=15, help="queries per class")
    a("--episodes", type=int, default=1000, help="number of episodes E")
    a("--seed", type=int, default=0, help="episode seed")
    a("--within-alphabet", action="store_true", help="draw all classes of a task from one alphabet")
    a("--metric", default="sqeuclidean", choices=["sqeuclidean", "cosine"], help="head metric")
    a("--transform", default="identity", choices=["identity", "l2", "cl2n"], help="feature map")
    a("--cl2n-split", default="background", help="split whose mean feature CL2N subtracts")
    a("--manifest", default=None, help="episode manifest: read if it exists, else write it")
    a("--out", default=None, help="JSON report path (a .png plot is written beside it)")
    a("--device", default=None, help="device for the encoder (default: cuda if available)")
    a("--batch-size", type=int, default=512, help="images per encoder batch")
    p.set_defaults(func=run_evaluate)
    return p


def run_evaluate(args: argparse.Namespace) -> int:
    import numpy as np

    from episodes.evaluate import format_result, pixel_encoder, write_report
    from episodes.protocols import score_setting
    from fewshot.data.omniglot import Omniglot
    from fewshot.encoders import load_encoder

    root = _omniglot_root(args)
    data = Omniglot(root, args.split, image_size=args.image_size, download=args.download)
    if args.encoder == "pixels":
        encoder = pixel_encoder(args.image_size)
    else:
        encoder = load_encoder(args.encoder, device=args.device)
    fit = None
    if args.transform == "cl2n":
        base = Omniglot(root, args.cl2n_split, image_size=args.image_size, download=args.download)
        pick = np.random.default_rng(args.seed).choice(len(base), min(4000, len(base)), False)
        fit = encoder.embed(list(base.images(np.sort(pick))), batch_size=args.batch_size)
    combos = [(w, s) for w in args.ways for s in args.shots]
    for n_way, k_shot in combos:
        report = score_setting(
            encoder, data, args.split, args.image_size, n_way, k_shot, args.queries,
            args.episodes, args.seed, args.within_alphabet, head=_head(args.metric),
            transform=args.transform, fit_features=fit, batch_size=args.batch_size,
            manifest=_per_combo(args.manifest, n_way, k_shot, len(combos)),
        )  # fmt: skip
        print(format_result(report), flush=True)
        out = _per_combo(args.out, n_way, k_shot, len(combos))
        if out:
            write_report(report, out)
    return 0


def _head(metric: str):
    from fewshot.heads import PrototypicalHead

    return PrototypicalHead(metric, learn_scale=False)


def _per_combo(path: str | None, n_way: int, k_shot: int, n: int) -> str | None:
    """``report.json`` → ``report-20w1s.json`` when several (ways, shots) are evaluated."""
    if path is None or n == 1:
        return path
    p = Path(path)
    return str(p.with_name(f"{p.stem}-{n_way}w{k_shot}s{p.suffix}"))


def main(argv: list[str] | None = None) -> int:
    """``python -m episodes {train,evaluate} ...``."""
    parser = argparse.ArgumentParser(prog="python -m episodes", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    add_train_command(sub)
    add_evaluate_command(sub)
    args = parser.parse_args(argv)
    return args.func(args)
