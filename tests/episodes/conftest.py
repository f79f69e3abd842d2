"""Every episodes test leaves torch's thread count as it found it: ``train`` sets it for the
whole process from ``TrainConfig.threads``, and the MAML test runs on one thread.

Small real data for the training tests: ``glyph_folder``, an image folder of real Omniglot PNGs
(8 Kannada characters × 20 drawers, copied from the zip unchanged), and ``ticket_csv``, real
BANKING77 rows (12 of each of 8 categories, as ``text`` / ``label`` columns), and ``intent_csv``,
real CLINC150 training rows (12 of each of 8 intents, the same columns)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch


@pytest.fixture(autouse=True)
def restore_torch_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def write_rows(path: Path, rows: list[tuple[str, str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    return path


def first_of_each(
    rows: list[tuple[str, str]], classes: int, per_class: int
) -> list[tuple[str, str]]:
    names = sorted({label for _, label in rows})[:classes]
    return [r for name in names for r in [r for r in rows if r[1] == name][:per_class]]


@pytest.fixture(scope="session")
def ticket_csv(data_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real BANKING77 training rows: the first 12 of each of 8 categories."""
    with open(data_root / "banking77" / "train.csv", newline="", encoding="utf-8") as handle:
        rows = [(row["text"], row["category"]) for row in csv.DictReader(handle)]
    return write_rows(
        tmp_path_factory.mktemp("tickets") / "tickets.csv", first_of_each(rows, 8, 12)
    )


@pytest.fixture(scope="session")
def intent_csv(data_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real CLINC150 training rows: the first 12 of each of 8 intents."""
    full = json.loads((data_root / "clinc150" / "data_full.json").read_text(encoding="utf-8"))
    rows = [(text, label) for text, label in full["train"]]
    return write_rows(
        tmp_path_factory.mktemp("intents") / "intents.csv", first_of_each(rows, 8, 12)
    )
