"""``finetune()`` orchestration: choose what to adapt, train it aside, re-embed aside.

Training and re-embedding never hold the classifier's lock; the classifier swaps the result in
afterwards (see ``FewShotClassifier.finetune``). Unknown options are refused by name before any
work starts, so an error raised inside training is a real failure, never re-labelled as bad input.

The encoder path needs every class's raw examples to re-embed them. The classifier keeps
strings: texts, and images registered as file paths. Images registered as arrays or PIL images
are not kept (they would hold decoded pixels); ``finetune(examples={label: images})`` passes
them again, one per registered shot of every label, and the store is rebuilt from them.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from fewshot.adapt import (
    finetune_image_encoder,
    finetune_text_encoder,
    train_projection_head,
    transformer_blocks,
)
from fewshot.classifier.inputs import Label
from fewshot.classifier.label_sets import DEFAULT_SET, LabelSets, LocalSets
from fewshot.classifier.local_catalog import Catalog
from fewshot.encoders import Encoder, ImagePreprocess, TorchEncoder
from fewshot.encoders.base import as_input_list
from fewshot.errors import InputError
from fewshot.heads.projection import ProjectionHead
from fewshot.vectors import as_float32_matrix

PARTS = ("auto", "encoder", "head")


def is_image_encoder(encoder: Encoder | None) -> bool:
    """A torch encoder of images (its preprocessing decodes images)."""
    return isinstance(encoder, TorchEncoder) and (
        isinstance(encoder.preprocess, ImagePreprocess)
        or (encoder.preprocess_spec or {}).get("kind") == "image"
    )


def encoder_is_tunable(encoder: Encoder | None) -> bool:
    """Whether ``finetune(part="encoder")`` applies: a torch text transformer or image encoder."""
    if not isinstance(encoder, TorchEncoder):
        return False
    if is_image_encoder(encoder):
        return True
    try:
        transformer_blocks(encoder)
    except InputError:
        return False
    return True


def only_set(sets: LabelSets) -> tuple[LocalSets, str, Catalog]:
    """The in-process sets, the one label set ``finetune`` adapts, and its catalog."""
    if not isinstance(sets, LocalSets):
        raise InputError(
            f"finetune() cannot change a shared {sets.store!r} store: other processes answer "
            "from the same classes with the encoder they hold. Fine-tune a copy instead: "
            "register the same examples in FewShotClassifier(encoder, store='flat'), run "
            "finetune() there, save its encoder, and register the classes again into a new "
            "table with that encoder"
        )
    names = sets.names()
    if len(names) > 1:
        raise InputError(
            f"finetune() adapts the classifier to one label set, but {len(names)} hold classes "
            f"({names}); fine-tune a classifier that holds only the set you need"
        )
    name = names[0] if names else DEFAULT_SET
    catalog = sets.get(name)
    return sets, name, catalog


def given_examples(
    options: dict[str, Any], shots: Mapping[Label, np.ndarray]
) -> dict[Label, list[Any]] | None:
    """``options["examples"]`` (removed from ``options``), checked: one raw input per
    registered shot of every registered label; ``None`` when not given."""
    given = options.pop("examples", None)
    if given is None:
        return None
    if not isinstance(given, Mapping):
        raise InputError("finetune(examples=...) takes a dict: label → that label's raw inputs")
    missing = [label for label in shots if label not in given]
    extra = [label for label in given if label not in shots]
    if missing or extra:
        raise InputError(
            f"finetune(examples=...) must cover exactly the registered labels; missing "
            f"{missing[:3]}, unknown {extra[:3]}"
        )
    out: dict[Label, list[Any]] = {}
    for label, items in given.items():
        items = as_input_list(items, f"examples[{label!r}]")
        if len(items) != len(shots[label]):
            raise InputError(
                f"finetune(examples=...): label {label!r} has {len(shots[label])} registered "
                f"shots but {len(items)} examples were given; pass the inputs it was registered with"
            )
        out[label] = items
    return out


def choose_part(part: str, encoder: Encoder | None, incomplete: list[Label]) -> str:
    """``"encoder"`` or ``"head"``: ``auto`` tunes a text transformer or an image encoder whose
    examples were all kept (or given), and trains a projection head otherwise."""
    if part not in PARTS:
        raise InputError(f"part must be one of {PARTS}, got {part!r}")
    if part == "auto":
        return "encoder" if not incomplete and encoder_is_tunable(encoder) else "head"
    return part


def check_options(function: Callable[..., Any], options: Mapping[str, Any], what: str) -> None:
    """Refuse option names ``function`` does not take (keyword-only parameters)."""
    accepted = {
        name
        for name, parameter in inspect.signature(function).parameters.items()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY
    }
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise InputError(
            f"finetune({what}) got unknown option(s) {unknown}; it takes {sorted(accepted)}"
        )


def train_head(shots: Mapping[Label, np.ndarray], options: dict[str, Any]) -> ProjectionHead:
    """A projection head trained on the registered embeddings (``adapt.train_projection_head``)."""
    check_options(train_projection_head, options, "part='head'")
    return train_projection_head(shots, **options)


def tune_encoder(
    encoder: Encoder | None,
    examples: Mapping[Label, list[Any]],
    shots: Mapping[Label, np.ndarray],
    incomplete: list[Label],
    options: dict[str, Any],
) -> tuple[TorchEncoder, Any]:
    """A fine-tuned copy of a text or image encoder and the run's report
    (``adapt.finetune_text_encoder`` / ``adapt.finetune_image_encoder``)."""
    if not isinstance(encoder, TorchEncoder):
        raise InputError(
            "finetune(part='encoder') needs a trainable encoder, but this classifier "
            f"{'holds precomputed features' if encoder is None else 'has no torch encoder'}"
            "; use finetune(part='head'), or build it with FewShotClassifier('minilm')"
        )
    if incomplete:
        raise InputError(
            f"finetune needs the raw examples behind every class; {len(incomplete)} class(es) "
            f"lack some (e.g. {incomplete[0]!r}: loaded from an older save, or registered as "
            "arrays or PIL images, which are not kept). Pass them: finetune(examples={label: "
            "inputs}), register file paths, or use finetune(part='head')"
        )
    options = {"embeddings": dict(shots), **options}  # the frozen start: no extra encoding pass
    if is_image_encoder(encoder):
        check_options(finetune_image_encoder, options, "part='encoder', images")
        return finetune_image_encoder(encoder, examples, **options)
    check_options(finetune_text_encoder, options, "part='encoder'")
    return finetune_text_encoder(encoder, examples, **options)


@dataclass(frozen=True)
class Adapted:
    """A finetune() result built aside: the new catalog, the encoder it was embedded with, and
    what to return to the caller (the head, or the encoder run's report)."""

    catalog: Catalog
    encoder: Encoder | None
    result: Any


def adapt(
    part: str,
    encoder: Encoder | None,
    catalog: Catalog,
    shots: dict[Label, np.ndarray],
    examples: dict[Label, list[Any]],
    incomplete: list[Label],
    options: dict[str, Any],
) -> Adapted:
    """Train the chosen part on copies of the classes (no lock held) and rebuild the catalog."""
    options = dict(options)
    given = given_examples(options, shots)
    if given is not None:
        examples, incomplete = given, []
    part = choose_part(part, encoder, incomplete)
    if len(shots) < 2:
        raise InputError(
            f"finetune needs at least two registered labels, got {len(shots)}; register more "
            "classes first (clf.register(label, examples))"
        )
    if part == "head":
        head = train_head(shots, options)
        return Adapted(
            catalog.rebuilt(catalog.space.with_head(head), shots, examples), encoder, head
        )
    tuned, report = tune_encoder(encoder, examples, shots, incomplete, options)
    embedded = reembed(tuned, examples, catalog.dim)
    return Adapted(
        catalog.rebuilt(catalog.space.with_head(None), embedded, examples), tuned, report
    )


def reembed(
    encoder: Encoder, examples: Mapping[Label, list[Any]], dim: int | None
) -> dict[Label, np.ndarray]:
    """Every label's texts through ``encoder`` in one pass: label → raw embeddings (n×d)."""
    flat = [item for items in examples.values() for item in items]
    if not flat:
        return {}
    embedded = as_float32_matrix(encoder.embed(flat), dim, "examples")
    out, start = {}, 0
    for label, items in examples.items():
        out[label] = embedded[start : start + len(items)]
        start += len(items)
    return out


def carry_over(
    current: Catalog,
    fresh: Catalog,
    encoder: Encoder | None,
    texts: Mapping[Label, list[Any]] | None,
) -> Catalog:
    """``fresh`` brought up to date with ``current``: classes registered, extended or removed
    since ``fresh`` was built from an older copy are re-embedded with ``encoder`` (``texts``: the
    texts ``fresh`` was built from) or, for a new head, re-projected from their shots."""
    if texts is not None and current.incomplete():
        raise InputError(
            "finetune: classes without raw texts were registered while it trained; "
            "nothing was changed. Run finetune() again"
        )
    changed: dict[Label, np.ndarray] = {}
    kept: dict[Label, np.ndarray] = {}
    for label in current.labels:
        if label in fresh and _unchanged(current, fresh, label, texts):
            kept[label] = fresh.shots(label)
        elif texts is not None and encoder is not None:
            changed[label] = np.empty(0)  # re-embedded below, in one pass
        else:
            changed[label] = current.shots(label)
    if texts is not None and encoder is not None:
        changed = reembed(
            encoder, {label: current.examples(label) for label in changed}, current.dim
        )
    merged = {label: kept[label] if label in kept else changed[label] for label in current.labels}
    texts_now = {label: current.examples(label) for label in current.labels}
    return fresh.rebuilt(fresh.space, merged, texts_now)


def _unchanged(
    current: Catalog, fresh: Catalog, label: Label, texts: Mapping[Label, list[Any]] | None
) -> bool:
    if texts is not None:
        return texts.get(label) == current.examples(label)
    return np.array_equal(fresh.shots(label), current.shots(label))
