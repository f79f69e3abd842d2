"""Blocks of a sentence-transformers / BERT-style text encoder: embeddings, then each layer.

The split forward reuses the library's own code rather than re-implementing attention masks:
the embeddings block runs the sentence-transformers ``Transformer`` module until its first
layer is called, and records that call's arguments (the attention mask in the form this
model's attention wants, MPNet's relative position bias, ...); every layer is then called
with the same arguments, as the model's encoder calls them. The last layer also applies the
modules after the transformer (pooling, normalising); when those hold parameters (a
``Dense`` layer), they are a block of their own, ``pooling``.

Between blocks the activation is a ``TokenStates``: ``hidden`` ``B×T×H`` and the tokenizer's
batch (``input_ids``, ``attention_mask``: ``B×T``). The last block gives ``B×d``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from fewshot.encoders.text import SentenceEmbedding
from fewshot.errors import InputError

Found = list[tuple[str, list[nn.Module], Callable[[Any], Any]]]
LAYER_PATHS = (("encoder", "layer"), ("transformer", "layer"))  # BERT/MPNet/RoBERTa; DistilBERT


@dataclass
class TokenStates:
    """Hidden states ``B×T×H`` after some blocks, with the token batch (``B×T`` tensors) they
    came from (non-tensor entries are tags, shared by all rows); ``extras`` holds the layer-call arguments (recomputed from the tokens when
    ``None``, e.g. for rows taken from a cache)."""

    hidden: torch.Tensor
    tokens: dict[str, Any]
    extras: tuple[tuple[Any, ...], dict[str, Any]] | None = field(default=None, repr=False)

    def select(self, rows: Sequence[int] | torch.Tensor) -> TokenStates:
        """The states of some rows (a cache lookup); layer arguments are recomputed."""
        index = torch.as_tensor(rows, dtype=torch.long, device=self.hidden.device)
        return TokenStates(
            self.hidden.index_select(0, index),
            {
                key: value.index_select(0, index) if isinstance(value, torch.Tensor) else value
                for key, value in self.tokens.items()
            },
        )

    @staticmethod
    def concat(parts: Sequence[TokenStates]) -> TokenStates:
        """One ``TokenStates`` from several batches, right-padded to the longest (the padding
        is masked out, as the tokenizer's own padding is)."""
        if not parts:
            raise InputError("TokenStates.concat needs at least one batch")
        length = max(part.hidden.shape[1] for part in parts)

        def pad(value: torch.Tensor) -> torch.Tensor:
            extra = length - value.shape[1]
            if extra == 0:
                return value
            shape = (value.shape[0], extra, *value.shape[2:])
            return torch.cat([value, value.new_zeros(shape)], dim=1)

        tokens = {
            key: torch.cat([pad(part.tokens[key]) for part in parts])
            if isinstance(value, torch.Tensor)
            else value  # tags such as sentence-transformers' "modality": "text"
            for key, value in parts[0].tokens.items()
        }
        return TokenStates(torch.cat([pad(part.hidden) for part in parts]), tokens)


class _Captured(Exception):
    """Stops the transformer at its first layer once that layer's arguments are recorded."""


def _layers(auto_model: nn.Module) -> tuple[nn.Module, nn.ModuleList] | None:
    for outer, inner in LAYER_PATHS:
        container = getattr(auto_model, outer, None)
        layers = getattr(container, inner, None)
        if isinstance(container, nn.Module) and isinstance(layers, nn.ModuleList) and len(layers):
            return container, layers
    return None


def _first_layer_call(
    transformer: nn.Module, layer: nn.Module, tokens: dict[str, torch.Tensor]
) -> tuple[torch.Tensor, tuple[Any, ...], dict[str, Any]]:
    """Run ``transformer`` (the sentence-transformers module) on ``tokens`` up to ``layer``:
    the embeddings ``B×T×H`` and the other arguments the model passes to its layers."""
    seen: dict[str, Any] = {}

    def record(_: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        seen["args"], seen["kwargs"] = args, kwargs
        raise _Captured

    handle = layer.register_forward_pre_hook(record, with_kwargs=True)
    try:
        transformer(dict(tokens))
    except _Captured:
        pass
    finally:
        handle.remove()
    if "args" not in seen:
        raise InputError(
            f"{type(transformer).__name__} never called its first layer; its blocks cannot be "
            "run separately: use train_blocks=0 or 'all'"
        )
    args = seen["args"]
    return args[0], tuple(args[1:]), dict(seen["kwargs"])


def transformer_blocks(module: nn.Module) -> Found | None:
    """The blocks of a ``SentenceEmbedding`` whose first module is a sentence-transformers
    ``Transformer`` over a BERT-style model (``encoder.layer``), else ``None``."""
    if not isinstance(module, SentenceEmbedding):
        return None
    modules = list(module.model.children())
    transformer = modules[0] if modules else None
    auto_model = getattr(transformer, "auto_model", None)
    if transformer is None or not isinstance(auto_model, nn.Module):
        return None
    located = _layers(auto_model)
    if located is None:
        return None
    container, layers = located
    post = modules[1:]
    inputs = [
        child
        for name, child in auto_model.named_children()
        if child is not container and name != "pooler"
    ] + [child for child in container.children() if child is not layers]

    def finish(states: TokenStates) -> torch.Tensor:
        features: dict[str, Any] = {**states.tokens, "token_embeddings": states.hidden}
        for step in post:
            features = step(features)
        return features["sentence_embedding"]

    def embed(tokens: dict[str, torch.Tensor]) -> TokenStates:
        hidden, args, kwargs = _first_layer_call(transformer, layers[0], tokens)
        return TokenStates(hidden, dict(tokens), (args, kwargs))

    def layer_run(layer: nn.Module) -> Callable[[TokenStates], TokenStates]:
        def run(states: TokenStates) -> TokenStates:
            extras = states.extras
            if extras is None:
                _, args, kwargs = _first_layer_call(transformer, layers[0], states.tokens)
                extras = (args, kwargs)
            out = layer(states.hidden, *extras[0], **extras[1])
            hidden = out[0] if isinstance(out, tuple) else out
            return TokenStates(hidden, states.tokens, extras)

        return run

    found: Found = [("embeddings", inputs, embed)]
    found += [(f"layer.{i}", [layer], layer_run(layer)) for i, layer in enumerate(layers)]
    if any(True for step in post for _ in step.parameters()):
        found.append(("pooling", post, finish))
    else:
        name, owners, run = found[-1]
        found[-1] = (name, owners, lambda states: finish(run(states)))
    return found
