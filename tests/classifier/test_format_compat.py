"""Stores saved before the restructuring (format 2, written by commit 2061b5f's code and
committed in tests/data/stores-format2) load and answer exactly as they did, and save again."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fewshot import FewShotClassifier

STORES = Path(__file__).resolve().parent.parent / "data" / "stores-format2"


def assert_answers(clf: FewShotClassifier, queries, expected: dict) -> None:
    result = clf.query(queries, k=len(expected["labels"][0]))
    assert result.labels.tolist() == expected["labels"]
    np.testing.assert_allclose(result.scores, expected["scores"], atol=1e-5)
    if "rejected" in expected:
        assert result.rejected.tolist() == expected["rejected"]


@pytest.mark.parametrize(
    "name", ["features-prototype-cosine", "features-knn-euclidean", "features-ivf-head"]
)
def test_feature_stores_of_format_2_load_and_answer_the_same(name, tmp_path):
    expected = json.loads((STORES / f"{name}.expected.json").read_text())
    queries = np.asarray(expected["queries"], dtype=np.float32)
    loaded = FewShotClassifier.load(STORES / name)
    assert_answers(loaded, queries, expected)
    loaded.save(tmp_path / "again")
    assert_answers(FewShotClassifier.load(tmp_path / "again"), queries, expected)


def test_text_store_of_format_2_keeps_its_examples(minilm, tmp_path):
    expected = json.loads((STORES / "text-minilm.expected.json").read_text())
    loaded = FewShotClassifier.load(STORES / "text-minilm", encoder=minilm)
    assert loaded.labels == ["greet", "bye"] and loaded.threshold == pytest.approx(0.3)
    assert loaded.examples("greet") == ["hello there", "good morning"]
    assert_answers(loaded, expected["queries"], expected)
