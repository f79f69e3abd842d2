"""``fewshot train`` and ``fewshot evaluate`` subcommands (argparse), also ``python -m episodes``.

The fewshot CLI finds these through the ``fewshot.commands`` entry-point group, so fewshot
never imports episodes. Every default comes from ``episodes.config`` (``TrainConfig`` and
``EVALUATION``); ``--help`` shows them. ``evaluate`` lives in ``episodes.evaluate_cli``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from episodes.config import TrainConfig, train_defaults
from episodes.evaluate_cli import add_evaluate_command
from fewshot.errors import FewShotError
from fewshot.metrics import METRIC_NAMES, METRICS

TRAIN = train_defaults()
METRIC_METAVAR = "{" + ",".join(METRICS) + "}"
METRIC_HELP = "prototype metric; sqeuclidean is accepted as another name of euclidean"


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

    def option(flag: str, field: str, help: str, **kw: Any) -> None:
        """``flag`` sets ``TrainConfig.<field>``; its default is the dataclass's."""
        default = TRAIN[field]
        if default is not None and not isinstance(default, bool):
            help += " (default: %(default)s)"
        if "action" not in kw and "choices" not in kw:  # named as argparse would without dest
            kw.setdefault("metavar", flag.removeprefix("--").upper().replace("-", "_"))
        p.add_argument(flag, dest=field, default=default, help=help, **kw)

    def switch_off(flag: str, field: str, help: str) -> None:
        """``flag`` turns the on-by-default ``TrainConfig.<field>`` off."""
        p.add_argument(flag, dest=field, action="store_false", default=TRAIN[field], help=help)

    a = p.add_argument
    a("--data-root", default=None, help="folder with the Omniglot zips (and splits/)")
    option("--download", "download", "fetch missing Omniglot zips (md5-checked)",
           action="store_true")  # fmt: skip
    a("--out", required=True, help="run folder: best/ (encoder checkpoint), state/, summary.json")
    option("--split", "split", "training split: background or vinyals-train/-trainval")
    option("--val-split", "val_split", "validation split (default: hold out drawers of --split)")
    option("--holdout-drawers", "holdout_drawers", "drawers per class held out for validation",
           type=int)  # fmt: skip
    option("--val-alphabets", "val_alphabets",
           "validate on the last N alphabets of --split instead (never trained on)", type=int)  # fmt: skip
    option("--alphabets", "alphabets", "use only these alphabets of --split (quick runs)",
           nargs="+")  # fmt: skip
    option("--image-size", "image_size", "image side in pixels (28 or 105)", type=int)
    switch_off("--no-rotations", "rotations", "do not add 90/180/270° rotations as classes")
    option("--backbone", "backbone", "network to train", choices=["conv4", "resnet12"])
    a("--hidden", type=int, default=None, help="Conv-4 channels per block (default 64)")
    a("--widths", type=int, nargs=4, default=None, help="ResNet-12 block widths")
    option("--metric", "metric", METRIC_HELP, choices=METRIC_NAMES, metavar=METRIC_METAVAR)
    option("--init", "init",
           "transfer: start from this encoder (shipped name such as omniglot-conv4, or a "
           "checkpoint folder) instead of a fresh --backbone")  # fmt: skip
    option("--freeze-stages", "freeze_stages",
           "transfer: keep the first N blocks fixed (weights and BatchNorm statistics)", type=int)  # fmt: skip
    option("--projection", "projection",
           "transfer: freeze the whole encoder and train only a linear projection to DIM",
           type=int, metavar="DIM")  # fmt: skip
    option("--ways", "n_way", "classes per training episode", type=int)
    option("--shots", "k_shot", "support examples per class in training", type=int)
    option("--queries", "q_query", "query examples per class in training", type=int)
    option("--episodes", "episodes",
           "training episodes in total, over all processes under torchrun; --lr-step, "
           "--val-every and --stop-at count episodes the same way", type=int)  # fmt: skip
    option("--episodes-per-step", "episodes_per_step",
           "episodes whose gradients one optimiser step averages, per process (under torchrun "
           "a step takes this many from every process)", type=int)  # fmt: skip
    option("--lr", "lr", "Adam learning rate", type=float)
    option("--lr-step", "lr_step", "episodes between learning-rate decays", type=int)
    option("--lr-gamma", "lr_gamma", "learning-rate decay factor", type=float)
    option("--within-alphabet", "within_alphabet", "fraction of within-alphabet episodes",
           type=float)  # fmt: skip
    switch_off("--no-augment", "augment", "disable random affine augmentation")
    option("--val-ways", "val_way", "classes per validation episode", type=int)
    option("--val-shots", "val_shot", "support examples per validation class", type=int)
    option("--val-queries", "val_query", "queries per validation class", type=int)
    option("--val-episodes", "val_episodes", "fixed validation episodes", type=int)
    option("--val-every", "val_every", "validate every this many episodes", type=int)
    switch_off("--val-across", "val_within_alphabet",
               "validate across alphabets (default: within)")  # fmt: skip
    option("--seed", "seed", "seed of episodes, augmentation and initialisation", type=int)
    option("--device", "device", "auto, cpu, cuda or cuda:N")
    option("--threads", "threads", "torch CPU threads (default: torch's choice)", type=int)
    switch_off("--no-amp", "amp", "disable bf16 autocast on CUDA")
    option("--max-minutes", "max_minutes", "stop (and validate) after this long", type=float)
    option("--stop-at", "stop_at",
           "stop (and validate) at this episode, keeping the --episodes lr schedule", type=int)  # fmt: skip
    a("--resume", action="store_true", help="continue from --out/state if present")
    option("--cache-dir", "cache_dir", "decoded-image cache (default ~/.cache/fewshot)")
    a("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_train)
    return p


def train_config(args: argparse.Namespace) -> TrainConfig:
    """The ``TrainConfig`` a parsed ``train`` command line asks for."""
    backbone_kwargs = {}
    if args.hidden is not None:
        backbone_kwargs["hidden"] = args.hidden
    if args.widths is not None:
        backbone_kwargs["widths"] = list(args.widths)
    values = {name: getattr(args, name) for name in TRAIN if hasattr(args, name)}
    values |= {
        "data_root": _omniglot_root(args),
        "out": args.out,
        "backbone_kwargs": backbone_kwargs,
    }
    return TrainConfig(**values)


def run_train(args: argparse.Namespace) -> int:
    from episodes.train import train

    summary = train(train_config(args), resume=args.resume, progress=False if args.quiet else None)
    print(json.dumps({k: v for k, v in summary.items() if k != "history"}))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m episodes {train,evaluate} ...``."""
    parser = argparse.ArgumentParser(prog="python -m episodes", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    add_train_command(sub)
    add_evaluate_command(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """``python -m episodes {train,evaluate} ...``; a refused argument or file is reported in
    one line on stderr with exit status 2, as ``fewshot`` does."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except FewShotError as exc:
        print(f"python -m episodes {args.command}: error: {exc}", file=sys.stderr)
        return 2
