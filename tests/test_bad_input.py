"""Bad input at every public entry: a clear error naming the argument, and nothing changed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from fewshot import FewShotClassifier
from fewshot.classifier.inputs import CHUNK_ROWS
from fewshot.cli import main
from fewshot.errors import InputError, NotReadyError, StoreFormatError, UnknownLabelError

HERE = Path(__file__).resolve().parent


def state(clf: FewShotClassifier) -> tuple:
    """Everything a failed call must leave as it was."""
    store = None if clf._store is None else sorted(clf._store.ids().tolist())
    shots = {label: clf.shots(label).tobytes() for label in clf.labels}
    return clf.labels, shots, store, clf._next_id, clf.dim


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


# ------------------------------------------------------------------------------------- CLI
def cli(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().err


def test_cli_reports_bad_input_files_as_errors(tmp_path, capsys):
    store = str(tmp_path / "s")
    np.save(tmp_path / "a.npy", np.eye(4)[:2])
    assert cli(capsys, "register", "--store", store, "--encoder", "features", "--label", "a",
               str(tmp_path / "a.npy"))[0] == 0  # fmt: skip
    code, err = cli(capsys, "predict", "--store", store, "--from-file", str(tmp_path / "nope.txt"))
    assert code == 2 and "--from-file" in err and "nope.txt" in err
    np.save(tmp_path / "obj.npy", np.array([{"x": 1}], dtype=object), allow_pickle=True)
    code, err = cli(capsys, "predict", "--store", store, str(tmp_path / "obj.npy"))
    assert code == 2 and "obj.npy" in err and "pickle" in err
    np.save(tmp_path / "wide.npy", np.ones((1, 7)))
    code, err = cli(capsys, "predict", "--store", store, str(tmp_path / "wide.npy"))
    assert code == 2 and "dimension 7" in err
    (tmp_path / "broken.npy").write_bytes(b"not numpy")
    code, err = cli(capsys, "predict", "--store", store, str(tmp_path / "broken.npy"))
    assert code == 2 and "broken.npy" in err
    np.save(tmp_path / "narrow.npy", np.ones((1, 3)))
    code, err = cli(
        capsys, "predict", "--store", store, str(tmp_path / "a.npy"), str(tmp_path / "narrow.npy")
    )
    assert code == 2 and "one width" in err
    code, err = cli(capsys, "register", "--store", store, "--label", " ", str(tmp_path / "a.npy"))
    assert code == 2 and "label" in err
    code, err = cli(capsys, "remove", "--store", store, "--label", "missing")
    assert code == 2 and "not registered" in err
    code, err = cli(capsys, "predict", "--store", store, "-k", "0", str(tmp_path / "a.npy"))
    assert code == 2 and "k must be" in err
    assert FewShotClassifier.load(store).labels == ["a"]


# ---------------------------------------------------------------------------- huge batches
@pytest.mark.parametrize("call", ["query", "register"])
def test_huge_feature_batches_keep_memory_bounded(call):
    """200k×128 float64 rows (195 MiB): chunking keeps the peak well under another copy."""
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    result = subprocess.run(
        [sys.executable, str(HERE / "memory_probe.py"), call, "200000", "128"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    # query: only chunk temporaries and the N×k result; register: plus the float32 shots kept
    # (half the float64 input). Without chunking both grew by a full input size (195 MiB).
    limit = 0.25 if call == "query" else 0.65
    assert measured["peak_growth_mib"] < limit * measured["input_mib"], measured
