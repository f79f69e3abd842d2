"""Class splits: from files (JSON, text), from seeded fractions (by class or whole groups),
always disjoint, checked against the dataset."""

from __future__ import annotations

import json

import pytest

from fewshot.data import ClassSplits, DatasetError, load_dataset, require_disjoint


def test_json_and_text_files(tmp_path):
    (tmp_path / "s.json").write_text(json.dumps({"train": ["a", "b"], "test": ["c"]}))
    (tmp_path / "s.txt").write_text("# my split\n[base]\na\nb\n\n[novel]\nc\n")
    from_json = ClassSplits.from_file(tmp_path / "s.json")
    from_text = ClassSplits.from_file(tmp_path / "s.txt")
    assert from_json == from_text == ClassSplits(("a", "b"), (), ("c",))
    assert from_text.names("test") == ("c",) and from_text.names("base") == ("a", "b")
    (tmp_path / "bad.txt").write_text("a\n[base]\nb\n")
    with pytest.raises(DatasetError, match="line 1: put a \\[base\\]"):
        ClassSplits.from_file(tmp_path / "bad.txt")


def test_overlapping_base_and_novel_classes_are_refused(tmp_path):
    (tmp_path / "s.json").write_text(json.dumps({"base": ["a", "b"], "novel": ["b", "c"]}))
    with pytest.raises(DatasetError, match=r"base and novel classes overlap .*\['b'\]"):
        ClassSplits.from_file(tmp_path / "s.json")
    with pytest.raises(DatasetError, match="must never be trained on"):
        require_disjoint(["x", "y"], ["y"], "trained and evaluated")


def test_seeded_fractions_are_disjoint_and_cover_every_class(shared_data):
    clinc = load_dataset("clinc150:test", root=shared_data)
    a = ClassSplits.from_fractions(clinc.class_names, (0.6, 0.2, 0.2), seed=0)
    assert a == ClassSplits.from_fractions(clinc.class_names, (0.6, 0.2, 0.2), seed=0)
    assert a != ClassSplits.from_fractions(clinc.class_names, (0.6, 0.2, 0.2), seed=1)
    assert (len(a.base), len(a.val), len(a.novel)) == (90, 30, 30)
    assert sorted(a.base + a.val + a.novel) == clinc.class_names
    novel = a.subset(clinc, "novel")
    assert novel.class_names == list(a.novel) and len(novel) == 30 * 30
    by_domain = ClassSplits.from_fractions(clinc.class_names, (0.8, 0.2), 0, clinc.class_groups)
    domain = dict(zip(clinc.class_names, clinc.class_groups))
    assert not {domain[c] for c in by_domain.base} & {domain[c] for c in by_domain.novel}
    assert by_domain.describe()["by_group"] is True and by_domain.val == ()


def test_bad_fractions_unknown_classes_and_round_trip(tmp_path, shared_data):
    with pytest.raises(DatasetError, match="summing to 1"):
        ClassSplits.from_fractions(["a", "b"], (0.5, 0.6))
    with pytest.raises(DatasetError, match=r"too few for a 0.1 novel fraction"):
        ClassSplits.from_fractions(["a", "b", "c"], (0.9, 0.1))
    splits = ClassSplits(("accept_reservations",), (), ("not_an_intent",))
    clinc = load_dataset("clinc150:test", root=shared_data)
    with pytest.raises(DatasetError, match="not_an_intent"):
        splits.check(clinc)
    with pytest.raises(DatasetError, match="is empty"):
        ClassSplits(("a",)).subset(clinc, "val")
    splits.save(tmp_path / "saved.json")
    assert ClassSplits.from_file(tmp_path / "saved.json") == splits
