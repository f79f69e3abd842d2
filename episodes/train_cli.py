"""``fewshot train``: the argparse half of ``episodes.train`` (also ``python -m episodes train``).

Every default comes from ``TrainConfig`` (``--help`` shows them). Without ``--data`` it trains
on Omniglot's ``--split`` exactly as before ``--data`` existed; ``--data`` (repeatable: one task
each) takes an image folder, a CSV/JSON of text rows, or ``omniglot`` / ``clinc150`` /
``banking77``.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from episodes.config import AUGMENTATIONS, HEADS, TASK_SAMPLING, TrainConfig, train_defaults
from episodes.evaluate_cli import METRIC_HELP, METRIC_METAVAR
from fewshot.metrics import METRIC_NAMES

TRAIN = train_defaults()


def _data_root(args: argparse.Namespace) -> str:
    """``--data-root``; else fewshot's data root ($FEWSHOT_DATA, then ../shared/data beside the
    repository, then ~/.cache/fewshot/data), its ``omniglot/`` for runs without ``--data``."""
    if args.data_root:
        return str(args.data_root)
    from fewshot.data.sources import data_root

    root = data_root(create=True)
    return str(root if args.data else root / "omniglot")


def add_train_command(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``train``: episodic training of a metric learner on any labelled data."""
    p = subparsers.add_parser(
        "train",
        help="train an encoder on N-way K-shot episodes (prototypical or siamese)",
        description="Train a network on episodes of any labelled data (Omniglot by default; "
        "--data for an image folder, a CSV/JSON of texts, clinc150, banking77): Conv-4 / "
        "ResNet-12 from scratch, or the last blocks of any pre-trained encoder (--init, "
        "--train-blocks); keeps the best checkpoint by validation accuracy.",
    )

    def option(flag: str, field: str, help: str, **kw: Any) -> None:
        """``flag`` sets ``TrainConfig.<field>``; its default is the dataclass's."""
        default = TRAIN[field]
        if default is not None and not isinstance(default, bool):
            help += " (default: %(default)s)"
        if "action" not in kw and "choices" not in kw:  # named as argparse would without dest
            kw.setdefault("metavar", flag.removeprefix("--").upper().replace("-", "_"))
        p.add_argument(flag, dest=field, default=default, help=help, **kw)

    def switch_off(flag: str, field: str, help: str, value: Any = False) -> None:
        """``flag`` turns the on-by-default ``TrainConfig.<field>`` off."""
        p.add_argument(flag, dest=field, action="store_const", const=value, default=TRAIN[field],
                       help=help)  # fmt: skip

    a = p.add_argument
    option("--data", "data",
           "labelled data, one task each when repeated: an image folder (one sub-folder per "
           "class), a .csv/.json of text rows, or omniglot, clinc150, banking77 (NAME:SPLIT); "
           "default: Omniglot's --split", action="append")  # fmt: skip
    a("--data-root", default=None, help="folder with the Omniglot zips (and splits/), or the data "
      "root holding clinc150/ and banking77/ with --data")  # fmt: skip
    option("--download", "download", "fetch missing Omniglot / intent files (checked)",
           action="store_true")  # fmt: skip
    a("--out", required=True, help="run folder: best/ (encoder checkpoint), state/, summary.json")
    option("--text-column", "text_column", "CSV/JSON column of the texts")
    option("--label-column", "label_column", "CSV/JSON column of the labels")
    option("--group-column", "group_column", "CSV/JSON column grouping classes")
    option("--classes", "classes",
           "class split file: train on [base], select on [val], never read [novel]")  # fmt: skip
    option("--split-fractions", "split_fractions",
           "seeded class split: base val novel fractions, e.g. 0.6 0.2 0.2", type=float, nargs="+",
           metavar="F")  # fmt: skip
    option("--split-seed", "split_seed", "seed of --split-fractions and of held-out examples",
           type=int)  # fmt: skip
    option("--split-by-group", "split_by_group",
           "--split-fractions keeps whole groups (alphabets, domains) on one side",
           action="store_true")  # fmt: skip
    option("--holdout-fraction", "holdout_fraction",
           "without a class split: fraction of each class's examples validated on", type=float)  # fmt: skip
    option("--split", "split", "Omniglot training split: background or vinyals-train/-trainval")
    option("--val-split", "val_split", "validation split (default: hold out drawers of --split)")
    option("--holdout-drawers", "holdout_drawers", "drawers per class held out for validation",
           type=int)  # fmt: skip
    option("--val-alphabets", "val_alphabets",
           "validate on the last N alphabets of --split instead (never trained on)", type=int)  # fmt: skip
    option("--alphabets", "alphabets", "use only these alphabets of --split (quick runs)",
           nargs="+")  # fmt: skip
    option("--image-size", "image_size",
           "image side in pixels (default: 28 for Conv-4 / ResNet-12, else the encoder's own; "
           "the checkpoint records it)", type=int)  # fmt: skip
    switch_off("--no-rotations", "rotations", "do not add 90/180/270° rotations as classes")
    option("--backbone", "backbone", "network to train", choices=["conv4", "resnet12"])
    a("--hidden", type=int, default=None, help="Conv-4 channels per block (default 64)")
    a("--widths", type=int, nargs=4, default=None, help="ResNet-12 block widths")
    option("--metric", "metric", METRIC_HELP + " (default: cosine with a learnable scale for a "
           "pre-trained --init, else euclidean)", choices=METRIC_NAMES, metavar=METRIC_METAVAR)  # fmt: skip
    option("--head", "head", "prototypes, or Koch et al.'s siamese pairs (head.safetensors)",
           choices=HEADS)  # fmt: skip
    option("--init", "init",
           "start from this encoder: efficientnet-lite0, minilm, mpnet, omniglot-conv4, a "
           "torchvision model, a model or checkpoint folder (anything load_encoder reads)")  # fmt: skip
    option("--train-blocks", "train_blocks",
           "train the last N blocks, 'all', or 0 (only a linear projection on frozen features); "
           "default: all")  # fmt: skip
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
    option("--task-sampling", "task_sampling",
           "with several --data: whose episode comes next", choices=TASK_SAMPLING)  # fmt: skip
    option("--lr", "lr", "Adam learning rate (default: 1e-4 when layers of a pre-trained text "
           "encoder learn, else 1e-3)", type=float)  # fmt: skip
    option("--lr-step", "lr_step", "episodes between learning-rate decays", type=int)
    option("--lr-gamma", "lr_gamma", "learning-rate decay factor", type=float)
    option("--within-alphabet", "within_alphabet", "fraction of within-alphabet (group) episodes",
           type=float)  # fmt: skip
    option("--augment", "augment",
           "image augmentation: auto (affine for drawn grayscale images, natural crops and flips "
           "for photos), affine, natural, or none (then the frozen blocks' output is cached)",
           choices=AUGMENTATIONS)  # fmt: skip
    switch_off("--no-augment", "augment", "the same as --augment none", value="none")
    option("--target-data", "target_data",
           "unlabelled target-domain inputs (image folder, .txt/.csv of texts, a dataset "
           "name): adds DANN's domain-adversarial loss")  # fmt: skip
    option("--dann-weight", "dann_weight", "weight of the domain loss", type=float)
    option("--val-ways", "val_way", "classes per validation episode", type=int)
    option("--val-shots", "val_shot", "support examples per validation class", type=int)
    option("--val-queries", "val_query", "queries per validation class", type=int)
    option("--val-episodes", "val_episodes", "fixed validation episodes", type=int)
    option("--val-every", "val_every", "validate every this many episodes", type=int)
    switch_off("--val-across", "val_within_alphabet",
               "Omniglot: validate across alphabets (default: within)")  # fmt: skip
    option("--seed", "seed", "seed of episodes, augmentation and initialisation", type=int)
    option("--device", "device", "auto, cpu, cuda or cuda:N")
    option("--threads", "threads", "torch CPU threads (default: torch's choice)", type=int)
    switch_off("--no-amp", "amp", "disable bf16 autocast on CUDA")
    option("--max-minutes", "max_minutes", "stop (and validate) after this long", type=float)
    option("--stop-at", "stop_at",
           "stop (and validate) at this episode, keeping the --episodes lr schedule", type=int)  # fmt: skip
    a("--resume", action="store_true", help="continue from --out/state if present")
    option("--cache-dir", "cache_dir", "decoded-image cache (default ~/.cache/fewshot)")
    option("--memory-mb", "memory_mb", "decoded images kept resident on the device", type=int)
    option("--cache-mb", "cache_mb", "cached output of the frozen blocks", type=int)
    option("--batch-size", "batch_size", "items per batch when validating and caching",
           type=int)  # fmt: skip
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
        "data_root": _data_root(args),
        "out": args.out,
        "backbone_kwargs": backbone_kwargs,
    }
    return TrainConfig(**values)


def run_train(args: argparse.Namespace) -> int:
    from episodes.train import train

    summary = train(train_config(args), resume=args.resume, progress=False if args.quiet else None)
    if os.environ.get("RANK", "0") == "0":  # under torchrun, rank 0 speaks for the run
        print(json.dumps({k: v for k, v in summary.items() if k not in ("history", "tasks")}))
    return 0
