"""load_dataset on real text rows (BANKING77 CSV, CLINC150 JSON) and the named datasets, with
the errors a user meets: a missing column, an empty label, a JSON object without a section."""

from __future__ import annotations

import json

import pytest

from fewshot.data import DatasetError, DatasetNotFoundError, Omniglot, load_dataset


@pytest.fixture(scope="module")
def banking_rows(shared_data, tmp_path_factory):
    """The first 300 rows of BANKING77's test.csv, label column renamed to ``intent``."""
    lines = (shared_data / "banking77/test.csv").read_text(encoding="utf-8").splitlines()
    path = tmp_path_factory.mktemp("rows") / "tickets.csv"
    path.write_text("\n".join(["text,intent", *lines[1:301]]) + "\n", encoding="utf-8")
    return path


def test_csv_rows_with_a_renamed_label_column(banking_rows):
    with pytest.raises(DatasetError, match=r"no column 'label'.*--label-column"):
        load_dataset(banking_rows)
    ds = load_dataset(banking_rows, label_column="intent")
    assert ds.kind == "text" and len(ds) == 300 and ds.class_names == sorted(ds.class_names)
    assert isinstance(ds.inputs([0])[0], str) and ds.describe()["dataset"] == "text-rows"


def test_empty_label_names_its_line(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("text,label\nhello,greet\nbye,\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="line 3: empty or missing 'label'"):
        load_dataset(path)


def test_json_objects_pairs_and_sections(shared_data, tmp_path):
    objects = tmp_path / "rows.json"
    objects.write_text(json.dumps([{"q": "hi", "y": "greet", "d": "social"},
                                   {"q": "bye", "y": "leave", "d": "social"}]))  # fmt: skip
    ds = load_dataset(objects, text_column="q", label_column="y", group_column="d")
    assert ds.class_names == ["greet", "leave"] and ds.class_groups == ["social", "social"]
    full = shared_data / "clinc150/data_full.json"
    with pytest.raises(DatasetError, match="choose one with section="):
        load_dataset(full)
    test = load_dataset(full, "test")
    assert len(test) == 4500 + 0 and len(test.class_names) == 150


def test_named_intent_datasets(shared_data):
    clinc = load_dataset("clinc150:test", root=shared_data)
    assert len(clinc) == 4500 and len(set(clinc.class_groups)) == 10
    assert clinc.describe()["split"] == "test" and "oos" not in clinc.class_names
    banking = load_dataset("banking77", "test", root=shared_data)
    assert len(banking.class_names) == 77 and banking.class_groups is None
    with pytest.raises(DatasetError, match="no validation split"):
        load_dataset("banking77:val", root=shared_data)
    with pytest.raises(DatasetNotFoundError, match="neither a folder"):
        load_dataset("no_such_thing")


def test_omniglot_by_name(shared_data, cache_dir):
    ds = load_dataset("omniglot:evaluation", root=shared_data, image_size=28, cache_dir=cache_dir,
                      alphabets=["Kannada"])  # fmt: skip
    assert isinstance(ds, Omniglot) and ds.split == "evaluation" and ds.image_size == 28
    with pytest.raises(DatasetError, match="no split 'test'"):
        load_dataset("omniglot:test")
