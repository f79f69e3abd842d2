"""The ``fewshot`` command: register classes into a saved store and classify inputs (JSON lines out).

Subcommands from other installed packages (``fewshot train``, ``fewshot evaluate`` from
``episodes``) are found through the ``fewshot.commands`` entry-point group, so this runtime
package never imports them.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import numpy as np

from fewshot.classifier import MODES, FewShotClassifier, check_label
from fewshot.classifier.label_sets import DEFAULT_SET
from fewshot.encoders.text import TextEncoder
from fewshot.errors import FewShotError, InputError
from fewshot.metrics import METRICS
from fewshot.store_directory import read_pointer


def _read_inputs(clf: FewShotClassifier, values: Sequence[str], from_file: str | None) -> Any:
    """Turn CLI arguments into a batch: text lines, image paths, or rows of .npy feature files."""
    items = list(values)
    if from_file is not None:
        try:
            handle = sys.stdin if from_file == "-" else open(from_file, encoding="utf-8")  # noqa: SIM115
            with handle:
                items += [line.rstrip("\n") for line in handle if line.strip()]
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(
                f"--from-file {from_file}: cannot read it as UTF-8 text ({exc})"
            ) from exc
    if not items:
        raise InputError(
            "no inputs given: pass them as arguments or with --from-file FILE (- for stdin)"
        )
    if clf.encoder is None:
        arrays = []
        for item in items:
            path = Path(item)
            if path.suffix != ".npy" or not path.is_file():
                raise InputError(f"this store takes feature vectors: pass .npy files, got {item!r}")
            try:
                array = np.load(path, allow_pickle=False)
            except (OSError, ValueError, EOFError) as exc:  # not .npy, truncated, or pickled
                raise InputError(
                    f"{item}: not a plain numeric .npy file ({exc}); pickled arrays are refused"
                ) from exc
            arrays.append(array[None, :] if array.ndim == 1 else array)
        widths = {array.shape[1:] for array in arrays}
        if len(widths) > 1 or any(array.ndim != 2 for array in arrays):
            shapes = ", ".join(str(array.shape) for array in arrays[:5])
            raise InputError(f"feature files must hold vectors of one width; got shapes {shapes}")
        return np.concatenate(arrays)
    if isinstance(clf.encoder, TextEncoder):
        return items
    missing = [item for item in items if not Path(item).is_file()]
    if missing:
        raise InputError(f"image file not found: {missing[0]}")
    return items


def _open_store(args: argparse.Namespace) -> FewShotClassifier:
    store = Path(args.store)
    if read_pointer_or_none(store) is None:
        raise InputError(
            f"no store at {store}: create one with `fewshot register --store {store} ...`"
        )
    return FewShotClassifier.load(store)


def read_pointer_or_none(store: Path) -> str | None:
    """The live snapshot's name, ``None`` where no store exists yet (errors for foreign ones)."""
    return read_pointer(store) if store.is_dir() else None


def _new_store(args: argparse.Namespace) -> dict[str, Any]:
    """Constructor keywords for a store that does not exist yet."""
    encoder = None if args.encoder == "features" else args.encoder
    return {
        "encoder": encoder,
        "metric": args.metric,
        "mode": args.mode,
        "threshold": args.threshold,
    }


def _cmd_register(args: argparse.Namespace) -> int:
    label = check_label(args.label)  # before any folder is created
    with FewShotClassifier.editing(args.store, **_new_store(args)) as clf:
        clf.register(
            label, _read_inputs(clf, args.inputs, args.from_file), label_set=args.label_set
        )
        shots = clf.num_shots(label, label_set=args.label_set)
        classes = len(clf.labels_in(args.label_set))
    print(
        json.dumps({"store": str(args.store), "label": label, "shots": shots, "classes": classes})
    )
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    clf = _open_store(args)
    if args.threshold is not None:
        clf.threshold = args.threshold
    inputs = _read_inputs(clf, args.inputs, args.from_file)
    result = clf.query(inputs, k=args.k, label_set=args.label_set)
    names = inputs if isinstance(inputs, list) else [f"row {i}" for i in range(len(inputs))]
    for name, labels, scores, rejected in zip(names, result.labels, result.scores, result.rejected):
        record = {
            "input": name,
            "label": None if rejected else labels[0],
            "score": float(scores[0]),
            "top_k": [
                {"label": label, "score": float(score)}
                for label, score in zip(labels, scores)
                if label is not None
            ],
        }
        print(json.dumps(record, ensure_ascii=False))
    return 0


def _cmd_remove(args: argparse.Namespace) -> int:
    _open_store(args)  # a clear error where there is no store
    with FewShotClassifier.editing(args.store) as clf:
        clf.remove(args.label, label_set=args.label_set)
        classes = len(clf.labels_in(args.label_set))
    print(json.dumps({"store": str(args.store), "removed": args.label, "classes": classes}))
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    clf = _open_store(args)
    info = {
        "store": str(args.store),
        "encoder": None if clf.encoder is None else clf.encoder.spec,
        "metric": clf.metric,
        "mode": clf.mode,
        "threshold": clf.threshold,
        "dim": clf.dim,
        "classes": {str(label): clf.num_shots(label) for label in clf.labels},
        "label_sets": {
            name: {
                str(label): clf.num_shots(label, label_set=name) for label in clf.labels_in(name)
            }
            for name in clf.label_sets
        },
    }
    print(json.dumps(info, indent=2, ensure_ascii=False))
    return 0


def _add_store(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        required=True,
        metavar="DIR",
        help="directory of the saved classifier (created by register)",
    )
    parser.add_argument(
        "--label-set",
        default=DEFAULT_SET,
        metavar="SET",
        help=f"the group of classes to use: a task or tenant (default: {DEFAULT_SET})",
    )


def _add_inputs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "inputs",
        nargs="*",
        metavar="INPUT",
        help="texts (text encoders), image paths (image encoders) or .npy files of feature rows (--encoder features)",
    )
    parser.add_argument(
        "--from-file",
        metavar="FILE",
        help="also read one input per line from FILE ('-' for standard input)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``fewshot``, with plug-in subcommands added."""
    parser = argparse.ArgumentParser(
        prog="fewshot",
        description="Few-shot classification: register classes from a few examples, then classify new inputs.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    register = sub.add_parser(
        "register",
        help="add examples of one class to a store (created on first use)",
        description="Add examples of one class; creates the store with --encoder on first use.",
    )
    _add_store(register)
    register.add_argument(
        "--label", required=True, help="the class the inputs belong to (extended if it exists)"
    )
    register.add_argument(
        "--encoder",
        default="minilm",
        help="encoder for a new store: minilm (text), efficientnet-lite0 (images), omniglot-conv4, a torchvision name, a checkpoint directory, or 'features' for .npy vectors (default: minilm)",
    )
    register.add_argument(
        "--metric",
        choices=tuple(METRICS),
        default="cosine",
        help="similarity for a new store (default: cosine)",
    )
    register.add_argument(
        "--mode",
        choices=MODES,
        default="prototype",
        help="prototype: one mean vector per class; knn: vote among nearest shots (default: prototype)",
    )
    register.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="reject queries whose best score is below this (new store only)",
    )
    _add_inputs(register)
    register.set_defaults(func=_cmd_register)

    predict = sub.add_parser(
        "predict",
        help="classify inputs; prints one JSON object per input",
        description="Classify inputs against a store; one JSON line per input with label (null if rejected), score and top_k.",
    )
    _add_store(predict)
    predict.add_argument(
        "-k", "--k", type=int, default=1, help="how many best labels to list per input (default: 1)"
    )
    predict.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="override the store's rejection threshold for this call",
    )
    _add_inputs(predict)
    predict.set_defaults(func=_cmd_predict)

    remove = sub.add_parser(
        "remove",
        help="forget one class",
        description="Remove a class and all its examples from a store.",
    )
    _add_store(remove)
    remove.add_argument("--label", required=True, help="the class to remove")
    remove.set_defaults(func=_cmd_remove)

    info = sub.add_parser(
        "info",
        help="describe a store",
        description="Print a store's encoder, settings and classes as JSON.",
    )
    _add_store(info)
    info.set_defaults(func=_cmd_info)

    for entry in entry_points(group="fewshot.commands"):
        try:
            entry.load()(sub)
        except Exception as exc:  # a broken plug-in must not take the core commands down
            print(
                f"fewshot: skipping command {entry.name!r} ({entry.value}): {exc}", file=sys.stderr
            )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``fewshot`` console script; returns the exit status."""
    return run(build_parser(), argv)


def run(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen command; a ``FewShotError`` becomes one line on
    stderr and exit status 2."""
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except FewShotError as exc:
        print(f"fewshot {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
