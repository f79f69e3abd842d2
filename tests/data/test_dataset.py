"""FewShotDataset: items, labels, class names, groups and sources; subsets as views; Omniglot
as one case of it."""

from __future__ import annotations

import numpy as np
import pytest

from fewshot.data import DatasetError, FewShotDataset, LabelledData, Omniglot


def small() -> FewShotDataset:
    return FewShotDataset(
        ["a0", "b0", "a1", "c0", "b1"], [0, 1, 0, 2, 1], ["a", "b", "c"],
        class_groups=["x", "y", "x"], sources=[1, 1, 2, 1, 2], kind="text",
    )  # fmt: skip


def test_subset_relabels_in_dataset_order_and_keeps_groups_and_sources():
    ds = small()
    sub = ds.subset(["c", "a"])
    assert sub.class_names == ["a", "c"] and sub.labels.tolist() == [0, 0, 1]
    assert sub.inputs([2, 0]) == ["c0", "a0"] and list(sub.items) == ["a0", "a1", "c0"]
    assert sub.class_groups == ["x", "x"] and sub.sources.tolist() == [1, 2, 1]
    assert sub.positions.tolist() == [0, 2, 3] and sub.root is ds
    assert sub.subset(["c"]).root_indices([0]).tolist() == [3]
    assert sub.describe()["subset_of"] == 3 and sub.kind == "text"


def test_bad_construction_and_unknown_classes_name_the_fix():
    with pytest.raises(DatasetError, match=r"class numbers in 0\.\.1"):
        FewShotDataset(["a", "b"], [0, 2], ["x", "y"])
    with pytest.raises(DatasetError, match="one group per class"):
        FewShotDataset(["a"], [0], ["x"], class_groups=["g", "h"])
    with pytest.raises(DatasetError, match="one source per item"):
        FewShotDataset(["a"], [0], ["x"], sources=[1, 2])
    with pytest.raises(DatasetError, match=r"\['zebra'\] are not in the dataset"):
        small().subset(["a", "zebra"])


def test_from_labelled_keeps_the_numbering():
    data = LabelledData(["hi", "bye", "yo"], ["greet", "leave", "greet"])
    ds = FewShotDataset.from_labelled(data, kind="text")
    assert ds.labels.tolist() == [0, 1, 0] and ds.class_names == ["greet", "leave"]
    assert ds.counts() == {"greet": 2, "leave": 1}
    with pytest.raises(ValueError, match="lower the shots or queries"):
        ds.require_examples(2)


def test_omniglot_is_a_few_shot_dataset(omniglot_root, cache_dir):
    ds = Omniglot(omniglot_root, "evaluation", image_size=28, cache_dir=cache_dir,
                  alphabets=["Kannada", "Tengwar"])  # fmt: skip
    assert isinstance(ds, FewShotDataset) and ds.kind == "image"
    assert ds.sources is ds.drawers and set(ds.sources.tolist()) == set(range(1, 21))
    assert set(ds.class_groups) == {"Kannada", "Tengwar"}
    assert np.array_equal(ds.inputs([3])[0], ds.images([3])[0]) and len(ds.items) == len(ds)
    names = [n for n in ds.class_names if n.startswith("Tengwar")][:3]
    sub = ds.subset(names)
    assert sub.class_names == names and len(sub) == 60 and sub.class_groups == ["Tengwar"] * 3
    assert np.array_equal(sub.inputs([0])[0], ds.images(sub.positions[:1])[0])
