"""Datasets: local roots, pinned downloads with checksums, and one few-shot dataset type.

``load_dataset(spec)`` reads an image folder, a CSV/JSON file of text rows, Omniglot, CLINC150
or BANKING77 as a ``FewShotDataset`` (items, labels, class names, optional class groups and
per-item sources); ``ClassSplits`` divides its classes into base / val / novel.
"""

from fewshot.data.class_splits import ClassSplits, require_disjoint
from fewshot.data.dataset import DatasetSubset, FewShotDataset
from fewshot.data.image_cache import DecodeCache, decode_image
from fewshot.data.image_folder import ImageFolderDataset
from fewshot.data.intents import OOS_LABEL, IntentDataset, load_banking77, load_clinc150
from fewshot.data.labelled import LabelledData
from fewshot.data.load import NAMED_SPLITS, load_dataset
from fewshot.data.omniglot import Omniglot
from fewshot.data.sources import DatasetError, DatasetNotFoundError, data_root
from fewshot.data.text import TextSplit, draw_k_shot
from fewshot.data.text_rows import load_text_rows

__all__ = [
    "NAMED_SPLITS",
    "OOS_LABEL",
    "ClassSplits",
    "DatasetError",
    "DatasetNotFoundError",
    "DatasetSubset",
    "DecodeCache",
    "FewShotDataset",
    "ImageFolderDataset",
    "IntentDataset",
    "LabelledData",
    "Omniglot",
    "TextSplit",
    "data_root",
    "decode_image",
    "draw_k_shot",
    "load_banking77",
    "load_clinc150",
    "load_dataset",
    "load_text_rows",
    "require_disjoint",
]
