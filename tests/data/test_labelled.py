"""The labelled-data adapter on real CSV/JSON text data, pairs, arrays and an ImageFolder."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from fewshot.data.labelled import LabelledData, check_class_sizes


def test_pairs_and_parallel_sequences_agree():
    pairs = [("a1", "b"), ("a2", "a"), ("a3", "b")]
    from_pairs = LabelledData.from_pairs(pairs)
    parallel = LabelledData.from_any(["a1", "a2", "a3"], ["b", "a", "b"])
    assert from_pairs.labels.tolist() == parallel.labels.tolist() == [1, 0, 1]
    assert from_pairs.class_names == ["a", "b"]
    assert from_pairs[1] == ("a2", 0)
    assert from_pairs.counts() == {"a": 1, "b": 2}


def test_tensor_labels_become_plain_scalars():
    data = LabelledData.from_pairs(
        [(torch.zeros(2), torch.tensor(3)), (torch.ones(2), torch.tensor(5))]
    )
    assert data.classes == [3, 5] and data.labels.tolist() == [0, 1]


def test_banking77_csv(shared_data):
    data = LabelledData.from_csv(shared_data / "banking77" / "train.csv", "text", "category")
    assert len(data) == 10003 and len(data.classes) == 77
    assert isinstance(data.items[0], str)
    with pytest.raises(ValueError, match=r"no column .intent.*label.column"):
        LabelledData.from_csv(shared_data / "banking77" / "train.csv", "text", "intent")


def test_clinc150_json_section(shared_data):
    path = shared_data / "clinc150" / "data_full.json"
    data = LabelledData.from_json(path, section="train")
    assert len(data.classes) == 150 and set(data.counts().values()) == {100}
    with pytest.raises(ValueError, match="section"):
        LabelledData.from_json(path)


def test_image_folder_without_get_labels(tmp_path):
    torchvision = pytest.importorskip("torchvision")
    for cls, n in (("cat", 3), ("dog", 2)):
        (tmp_path / cls).mkdir()
        for i in range(n):
            Image.new("L", (8, 8), color=i * 40).save(tmp_path / cls / f"{i}.png")
    folder = torchvision.datasets.ImageFolder(str(tmp_path))
    data = LabelledData.from_any(folder)
    assert data.class_names == ["cat", "dog"] and data.labels.tolist() == [0, 0, 0, 1, 1]
    assert str(data.items[3]).endswith("dog/0.png")


def test_short_class_error_names_class_and_numbers():
    data = LabelledData(list(range(7)), ["x"] * 5 + ["y"] * 2)
    data.require_examples(2)
    with pytest.raises(
        ValueError,
        match=r"k_shot \+ q_query = 3 examples are needed per class, but class 'y' has 2;",
    ):
        data.require_examples(3)
    with pytest.raises(ValueError, match="'x' has 0"):
        check_class_sizes(np.array([1, 1]), ["x", "y"], 1)


def test_mismatched_lengths_and_bad_pairs():
    with pytest.raises(ValueError, match="one label per item"):
        LabelledData([1, 2], ["a"])
    with pytest.raises(ValueError, match="element 1"):
        LabelledData.from_pairs([(1, "a"), 2])
