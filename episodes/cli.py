"""``fewshot train`` and ``fewshot evaluate`` subcommands (argparse), also ``python -m episodes``.

The fewshot CLI finds these through the ``fewshot.commands`` entry-point group, so fewshot
never imports episodes. Every default comes from ``episodes.config`` (``TrainConfig`` and
``EVALUATION``); ``--help`` shows them. ``evaluate`` lives in ``episodes.evaluate_cli``.
"""

from __future__ import annotations

import argparse
import sys

from episodes.evaluate_cli import add_evaluate_command
from episodes.train_cli import add_train_command, train_config
from fewshot.errors import FewShotError

__all__ = ["add_evaluate_command", "add_train_command", "build_parser", "main", "train_config"]


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
