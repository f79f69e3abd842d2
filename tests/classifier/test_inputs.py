"""Bad input at every public entry: a clear error naming the argument, and nothing changed."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fewshot import FewShotClassifier
from fewshot.classifier.inputs import CHUNK_ROWS
from fewshot.errors import InputError, NotReadyError, StoreFormatError, UnknownLabelError


def state(clf: FewShotClassifier) -> tuple:
    """Everything a failed call must leave as it was."""
    store = None if clf.index is None else sorted(clf.index.ids().tolist())
    shots = {label: clf.shots(label).tobytes() for label in clf.labels}
    return clf.labels, shots, store, clf.dim


@pytest.fixture()
def clf() -> FewShotClassifier:
    clf = FewShotClassifier()
    clf.register_many({"a": np.eye(4)[:2], "b": np.eye(4)[2:]})
    return clf


@pytest.mark.parametrize(
    "examples, message",
    [
        (None, "numeric|2-D"),
        ({"x": 1}, "numeric|2-D"),
        (np.zeros((2, 2, 4)), "2-D"),
        (np.float32(3.0), "2-D"),
        (np.zeros((2, 4), dtype=complex), "real"),
        (np.array([["1", "2", "3", "4"]]), "numeric"),
        (torch.full((1, 4), float("nan")), "NaN"),
        (np.zeros((1, 3)), "dimension 3"),
        ([], "no examples"),
    ],
)
def test_register_refuses_bad_examples_and_changes_nothing(clf, examples, message):
    before = state(clf)
    with pytest.raises(InputError, match=message):
        clf.register("new", examples)
    with pytest.raises(InputError, match=message):
        clf.register("a", examples)  # extending an existing class fails the same way
    assert state(clf) == before


def test_register_many_is_all_or_nothing_for_features(clf):
    before = state(clf)
    cases = [
        ({"c": np.ones((1, 4)), "d": np.full((1, 4), np.inf)}, "examples of 'd'.*infinite"),
        ({"c": np.ones((1, 4)), "": np.ones((1, 4))}, "non-empty"),
        ({"c": np.ones((1, 4)), True: np.ones((1, 4))}, "not a bool"),
        ({"c": np.ones((1, 4)), "a": np.ones((1, 5))}, "dimension"),
        ({"c": np.ones((1, 4)), "d": []}, "no examples"),
        ([("c", np.ones((1, 4)))], "mapping"),
    ]
    for batch, message in cases:
        with pytest.raises(InputError, match=message):
            clf.register_many(batch)
        assert state(clf) == before


def test_a_nan_far_into_a_huge_batch_is_named_by_its_row(clf):
    batch = np.ones((CHUNK_ROWS * 2 + 10, 4))
    batch[CHUNK_ROWS + 5, 1] = np.nan
    before = state(clf)
    for call in (lambda: clf.query(batch), lambda: clf.register("big", batch)):
        with pytest.raises(InputError, match=f"row {CHUNK_ROWS + 5} "):
            call()
    assert state(clf) == before


@pytest.mark.parametrize(
    "batch, message",
    [
        (None, "numeric|2-D"),
        ("text", "numeric"),
        (np.zeros((2, 5)), "dimension 5"),
        (np.zeros((1, 2, 4)), "2-D"),
        ([[0.0, 1.0, np.nan, 0.0]], "row 0 contains NaN"),
    ],
)
def test_query_and_predict_refuse_bad_batches(clf, batch, message):
    before = state(clf)
    for call in (clf.query, clf.predict, clf.best_scores):
        with pytest.raises(InputError, match=message):
            call(batch)
    assert state(clf) == before


def test_empty_batches_and_unknown_labels(clf):
    assert clf.predict([]) == [] and clf.query(np.zeros((0, 4)), k=2).labels.shape == (0, 2)
    before = state(clf)
    for label in ("zzz", 3, ["a"], None):
        with pytest.raises(UnknownLabelError, match="not registered"):
            clf.remove(label)
    with pytest.raises(UnknownLabelError, match="known: 'a', 'b'"):
        clf.shots("zzz")
    assert state(clf) == before
    empty = FewShotClassifier()
    with pytest.raises(NotReadyError, match="register"):
        empty.query(np.ones((1, 4)))


def test_unicode_labels_that_look_alike_stay_distinct(clf):
    clf.register_many(
        {"café": np.ones((1, 4)), "cafe\u0301": -np.ones((1, 4)), "😀": np.eye(4)[:1]}
    )
    assert clf.labels[-3:] == ["café", "cafe\u0301", "😀"]
    assert clf.predict(-np.ones((1, 4))) == ["cafe\u0301"]


@pytest.mark.parametrize("directory", [None, 3, b"bytes/path", "", ["a"]])
def test_save_and_load_refuse_non_paths(clf, directory):
    with pytest.raises(InputError, match="directory must be"):
        FewShotClassifier.load(directory)
    with pytest.raises(InputError, match="directory must be"):
        clf.save(directory)


def test_load_refuses_files_and_empty_directories(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreFormatError, match=r"does not exist|not a directory"):
        FewShotClassifier.load(tmp_path / "file")
    (tmp_path / "empty").mkdir()
    with pytest.raises(StoreFormatError, match="CURRENT"):
        FewShotClassifier.load(tmp_path / "empty")
    with pytest.raises(StoreFormatError, match="not a directory"):
        FewShotClassifier().save(tmp_path / "file")


def test_editing_registered_arrays_afterwards_changes_nothing():
    features = np.eye(4, dtype=np.float32)
    tensor = torch.eye(4)[2:]
    clf = FewShotClassifier(encoder=None)
    clf.register_many({"a": features[:1], "b": features[1:2], "c": tensor})
    features[:] = 0.0
    tensor[:] = 0.0
    np.testing.assert_array_equal(clf.shots("a"), np.eye(4, dtype=np.float32)[:1])
    np.testing.assert_array_equal(clf.shots("c"), np.eye(4, dtype=np.float32)[2:])
    assert clf.predict(np.eye(4, dtype=np.float32)[[1, 0]]) == ["b", "a"]
