"""Adapting a metric space to new classes and domains.

Fine-tune a text encoder's blocks (``text_encoder``) or an image encoder's later blocks with
augmentation (``image_encoder``, ``augment``, ``batches``), train a projection head
(``projection_head``), or re-estimate BatchNorm statistics on unlabelled target-domain inputs
(``adabn``). Each returns new, frozen parts; the classifier swaps them in
(``FewShotClassifier.finetune``).
"""

from fewshot.adapt.adabn import adabn
from fewshot.adapt.augment import RECIPES, augmentation
from fewshot.adapt.image_encoder import (
    IMAGE_DEFAULTS,
    IMAGE_LOSSES,
    ImageFinetuneReport,
    finetune_image_encoder,
)
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
    "IMAGE_DEFAULTS",
    "IMAGE_LOSSES",
    "LOSSES",
    "RECIPES",
    "FinetuneReport",
    "ImageFinetuneReport",
    "adabn",
    "augmentation",
    "finetune_image_encoder",
    "finetune_text_encoder",
    "train_projection_head",
    "transformer_blocks",
]
