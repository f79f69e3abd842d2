"""``fewshot embed`` and ``fewshot register-shards``: the shard job from the command line.

Both are ``fewshot.commands`` entry points (like ``train``), so ``fewshot.cli`` finds them once
the package is installed; ``python -m fewshot.shards_cli embed ...`` runs them without that.

    fewshot embed --input items.jsonl --out shards/ --shard 3/8      # one shard (any scheduler)
    fewshot embed --input items.jsonl --out shards/ --shards 8 --workers 2   # all, locally
    fewshot register-shards --store intents/ --shards shards/
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fewshot.classifier import FewShotClassifier
from fewshot.cli import run
from fewshot.errors import InputError
from fewshot.shards import embed_all, embed_shard, finished_shards, parse_shard, register_shards


def _cmd_embed(args: argparse.Namespace) -> int:
    if (args.shard is None) == (args.shards is None):
        raise InputError("pass --shard I/N (one shard) or --shards N (all of them, locally)")
    if args.shard is not None:
        shard, num_shards = parse_shard(args.shard)
        folders = [
            embed_shard(
                args.input, args.out, shard, num_shards, args.encoder, batch_size=args.batch_size
            )
        ]
    else:
        folders = embed_all(args.input, args.out, args.shards, args.encoder, workers=args.workers)
    for folder in folders:
        print(json.dumps({"shard": folder.name, "folder": str(folder)}))
    return 0


def _cmd_register_shards(args: argparse.Namespace) -> int:
    store = Path(args.store)
    _, marker = finished_shards(args.shards)[0]  # a new store takes the shards' encoder
    with FewShotClassifier.editing(store, encoder=marker["encoder"]) as clf:  # under the lock
        rows = register_shards(clf, args.shards, label_set=args.label_set, progress=None)
        classes = len(clf.labels_in(args.label_set))
    clf.close()
    print(json.dumps({"store": str(store), "rows": rows, "classes": classes}))
    return 0


def add_embed_command(sub: Any) -> None:
    """``fewshot embed``: embed a JSON-lines input set in shards."""
    parser = sub.add_parser(
        "embed",
        help="embed a large input set in shards (one shard, or all with local processes)",
        description="Embed the lines of a JSON-lines file ({'input': ..., 'label': ...}) in "
        "shards; finished shards are skipped, so reruns and retries are cheap.",
    )
    parser.add_argument("--input", required=True, help="JSON-lines file of inputs and labels")
    parser.add_argument("--out", required=True, help="folder of the shard folders")
    parser.add_argument("--encoder", default="minilm", help="encoder name (default: minilm)")
    parser.add_argument("--shard", help="I/N: embed shard I (from 0) of N, e.g. 3/8")
    parser.add_argument("--shards", type=int, help="N: embed every shard of N here")
    parser.add_argument("--workers", type=int, default=2, help="local processes for --shards")
    parser.add_argument("--batch-size", type=int, default=256, help="inputs per encoder call")
    parser.set_defaults(func=_cmd_embed)


def add_register_shards_command(sub: Any) -> None:
    """``fewshot register-shards``: register finished shards into a saved store."""
    parser = sub.add_parser(
        "register-shards",
        help="register embedded shards into a store (created with their encoder if missing)",
        description="Stream every shard's embeddings into a store, without the encoder.",
    )
    parser.add_argument("--store", required=True, metavar="DIR", help="the saved classifier")
    parser.add_argument("--shards", required=True, metavar="DIR", help="the shard folders")
    parser.add_argument("--label-set", default="default", help="label set to register into")
    parser.set_defaults(func=_cmd_register_shards)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m fewshot.shards_cli embed|register-shards ...``; returns the exit status."""
    parser = argparse.ArgumentParser(prog="fewshot")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    add_embed_command(sub)
    add_register_shards_command(sub)
    return run(parser, argv)  # the one error-to-exit-status rule of every command


if __name__ == "__main__":
    sys.exit(main())
