"""Datasets: local roots, pinned downloads with checksums, and loaders returning plain splits."""

from fewshot.data.intents import OOS_LABEL, IntentDataset, load_banking77, load_clinc150
from fewshot.data.sources import DatasetError, DatasetNotFoundError, data_root
from fewshot.data.text import TextSplit, draw_k_shot

__all__ = [
    "OOS_LABEL",
    "DatasetError",
    "DatasetNotFoundError",
    "IntentDataset",
    "TextSplit",
    "data_root",
    "draw_k_shot",
    "load_banking77",
    "load_clinc150",
]
