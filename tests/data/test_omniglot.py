"""Omniglot from the real zips: layout checks, splits, rotations, cache."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from fewshot.data import omniglot_files as om
from fewshot.data.omniglot import Omniglot

FEW = ["Greek", "Latin"]  # small evaluation-free subset of the background alphabets


@pytest.fixture(scope="module")
def background(omniglot_root, cache_dir):
    return Omniglot(omniglot_root, "background", image_size=28, cache_dir=cache_dir)


def test_background_counts_and_metadata(background):
    assert len(background.classes) == 964
    assert len(background) == 19280
    assert background.base_images.shape == (19280, 28, 28)
    assert background.base_images.dtype == np.uint8
    assert len(set(background.class_groups)) == 30
    assert np.bincount(background.labels).tolist() == [20] * 964
    assert background.class_names[0] == "Alphabet_of_the_Magi/character01"
    assert background.drawers[:20].tolist() == list(range(1, 21))


def test_images_have_dark_ink_on_paper(background):
    img = background.images([0])[0]
    assert img.shape == (28, 28)
    # paper dominates; strokes are dark
    assert np.median(img) == 255 and img.min() < 100


def test_evaluation_full_size_is_binary(omniglot_root, cache_dir):
    ev = Omniglot(omniglot_root, "evaluation", image_size=105, cache_dir=cache_dir)
    assert len(ev.classes) == 659 and len(set(ev.class_groups)) == 20
    assert set(np.unique(ev.images(np.arange(40))).tolist()) <= {0, 255}
    assert not set(ev.class_groups) & set(
        Omniglot(omniglot_root, "background", cache_dir=cache_dir).class_groups
    )


def test_rotations_are_extra_classes_and_rotate_pixels(omniglot_root, cache_dir):
    ds = Omniglot(
        omniglot_root, "background", rotations=(0, 90), alphabets=FEW, cache_dir=cache_dir
    )
    assert len(ds.classes) == 2 * (24 + 26)  # Greek and Latin, each character twice
    assert {c.rotation for c in ds.classes} == {0, 90}
    names = ds.class_names
    up = ds.labels == names.index("Greek/character01")
    rot = ds.labels == names.index("Greek/character01/rot090")
    a, b = ds.images(np.flatnonzero(up)), ds.images(np.flatnonzero(rot))
    np.testing.assert_array_equal(np.rot90(a, 1, axes=(1, 2)), b)


def test_vinyals_test_split(omniglot_root, cache_dir):
    ds = Omniglot(omniglot_root, "vinyals-test", cache_dir=cache_dir)
    assert len(ds.classes) == 1692  # 423 characters × 4 rotations
    assert len(ds) == 1692 * 20
    assert len(set(ds.class_groups)) == 13


def test_alphabet_subset_and_unknown_alphabet(omniglot_root, cache_dir):
    ds = Omniglot(omniglot_root, "background", alphabets=FEW, cache_dir=cache_dir)
    assert set(ds.class_groups) == set(FEW)
    with pytest.raises(ValueError, match="Klingon"):
        Omniglot(omniglot_root, "background", alphabets=["Klingon"], cache_dir=cache_dir)


def test_disk_cache_is_reused(omniglot_root, tmp_path):
    om.clear_memory_cache()
    Omniglot(omniglot_root, "evaluation", image_size=105, cache_dir=tmp_path)
    files = list(tmp_path.glob("omniglot-images_evaluation-105-*.npy"))
    assert len(files) == 1
    om.clear_memory_cache()
    again = Omniglot(omniglot_root, "evaluation", image_size=105, cache_dir=tmp_path)
    assert again.base_images.shape == (13180, 105, 105)


def test_bad_arguments_name_themselves(omniglot_root):
    with pytest.raises(ValueError, match="split"):
        Omniglot(omniglot_root, "train")
    with pytest.raises(ValueError, match="rotations"):
        Omniglot(omniglot_root, rotations=(45,))
    with pytest.raises(FileNotFoundError, match="download=True"):
        Omniglot(omniglot_root.parent, "background")


def test_layout_check_rejects_incomplete_copy(omniglot_root):
    with zipfile.ZipFile(omniglot_root / "images_background.zip") as zf:
        names = zf.namelist()
    om.verify_layout(names, "images_background")
    pngs = [n for n in names if n.endswith(".png")]
    with pytest.raises(ValueError, match="expected"):
        om.verify_layout(pngs[:-20], "images_background")
    with pytest.raises(ValueError, match="unexpected member"):
        om.verify_layout([*pngs, "images_background/x.png"], "images_background")


def test_upstream_sources_are_recorded():
    assert om.UPSTREAM_MD5["images_background"] == "68d2efa1b9178cc56df9314c21c6e718"
    assert om.UPSTREAM_MD5["images_evaluation"] == "6b91aef0f799c5bb55b94e3f2daec811"
    assert om.BACKGROUND_URL.startswith("https://raw.githubusercontent.com/brendenlake/omniglot/")
