"""Rebuild any head from its JSON spec (the inverse of ``head.spec``)."""

from __future__ import annotations

from typing import Any

from fewshot.errors import InputError
from fewshot.heads.base import Head
from fewshot.heads.domain import DomainClassifier
from fewshot.heads.projection import ProjectionHead
from fewshot.heads.prototypical import PrototypicalHead
from fewshot.heads.siamese import SiameseHead

HEADS: dict[str, type[Head]] = {
    "prototypical": PrototypicalHead,
    "siamese": SiameseHead,
    "projection": ProjectionHead,
    "domain": DomainClassifier,
}


def build_head(spec: dict[str, Any]) -> Head:
    """A fresh head of ``spec["type"]`` built from the rest of ``spec`` (weights untouched)."""
    if not isinstance(spec, dict):
        raise InputError(f"a head spec must be a dict, got {type(spec).__name__}")
    kind = spec.get("type")
    if kind not in HEADS:
        raise InputError(f"unknown head type {kind!r}; known: {sorted(HEADS)}")
    options = {key: value for key, value in spec.items() if key != "type"}
    try:
        return HEADS[kind](**options)
    except TypeError as exc:
        raise InputError(f"head spec {spec!r} does not fit {HEADS[kind].__name__}: {exc}") from exc
