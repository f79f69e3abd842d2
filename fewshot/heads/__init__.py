"""Metric heads and their losses: prototypical, siamese, feature transforms."""

from fewshot.heads.prototypical import PrototypicalHead, prototypes, prototypical_loss
from fewshot.heads.siamese import SiameseHead, contrastive_loss, siamese_loss
from fewshot.heads.transforms import CL2N, Identity, L2Normalize, build_transform

__all__ = [
    "CL2N",
    "Identity",
    "L2Normalize",
    "PrototypicalHead",
    "SiameseHead",
    "build_transform",
    "contrastive_loss",
    "prototypes",
    "prototypical_loss",
    "siamese_loss",
]
