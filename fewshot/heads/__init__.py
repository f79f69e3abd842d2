"""Metric heads and their losses: prototypical, siamese, contrastive, projection, transforms."""

from fewshot.heads.contrastive import supervised_contrastive_loss
from fewshot.heads.projection import ProjectionHead, train_projection_head
from fewshot.heads.prototypical import PrototypicalHead, prototypes, prototypical_loss
from fewshot.heads.siamese import SiameseHead, contrastive_loss, cosine_pair_loss, siamese_loss
from fewshot.heads.transforms import CL2N, Identity, L2Normalize, build_transform

__all__ = [
    "CL2N",
    "Identity",
    "L2Normalize",
    "ProjectionHead",
    "PrototypicalHead",
    "SiameseHead",
    "build_transform",
    "contrastive_loss",
    "cosine_pair_loss",
    "prototypes",
    "prototypical_loss",
    "siamese_loss",
    "supervised_contrastive_loss",
    "train_projection_head",
]
