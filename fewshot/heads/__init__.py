"""Metric heads on top of embeddings (B, d), their feature transforms, and every loss they use."""

from fewshot.heads.base import Head
from fewshot.heads.build import HEADS, build_head
from fewshot.heads.domain import DomainClassifier, dann_lambda, grad_reverse
from fewshot.heads.losses import (
    contrastive_loss,
    cosine_pair_loss,
    prototypical_loss,
    siamese_loss,
    supervised_contrastive_loss,
)
from fewshot.heads.projection import ProjectionHead
from fewshot.heads.prototypical import PrototypicalHead, prototypes
from fewshot.heads.siamese import SiameseHead
from fewshot.heads.transforms import CL2N, Identity, L2Normalize, build_transform

__all__ = [
    "CL2N",
    "HEADS",
    "DomainClassifier",
    "Head",
    "Identity",
    "L2Normalize",
    "ProjectionHead",
    "PrototypicalHead",
    "SiameseHead",
    "build_head",
    "build_transform",
    "contrastive_loss",
    "cosine_pair_loss",
    "dann_lambda",
    "grad_reverse",
    "prototypes",
    "prototypical_loss",
    "siamese_loss",
    "supervised_contrastive_loss",
]
