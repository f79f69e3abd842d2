"""Adapting a metric space to new classes: fine-tune a text encoder's blocks, or train a head.

Both take labelled examples (label → inputs or embeddings) and return new, frozen parts; the
classifier swaps them in (``FewShotClassifier.finetune``).
"""

from fewshot.adapt.projection_head import train_projection_head
from fewshot.adapt.text_encoder import (
    DEFAULTS,
    LOSSES,
    FinetuneReport,
    finetune_text_encoder,
    transformer_blocks,
)

__all__ = [
    "DEFAULTS",
    "LOSSES",
    "FinetuneReport",
    "finetune_text_encoder",
    "train_projection_head",
    "transformer_blocks",
]
