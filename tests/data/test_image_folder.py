"""Image folders: lazy listing, decoding at a size, the bounded decode cache (memory LRU and
disk), and errors that name the folder or file to fix."""

from __future__ import annotations

import os

import numpy as np
import pytest

from fewshot.data import DatasetError, DecodeCache, ImageFolderDataset, decode_image, load_dataset


def test_glyph_folder_lists_classes_and_decodes_lazily(glyph_folder):
    ds = load_dataset(glyph_folder, image_size=28, mode="L")
    assert isinstance(ds, ImageFolderDataset) and ds.kind == "image"
    assert len(ds.class_names) == 8 and len(ds) == 160 and ds.counts()[ds.class_names[0]] == 20
    assert ds.cache.misses == 0  # listing opened no image
    first = ds.inputs([0, 21])
    assert first[0].shape == (28, 28) and first[0].dtype == np.uint8
    assert np.median(first[0]) == 255 and first[0].min() < 128  # dark ink on white paper
    ds.inputs([0])
    assert (ds.cache.hits, ds.cache.misses) == (1, 2)


def test_rgb_photos_at_native_and_fixed_size(photo_folder):
    native = load_dataset(photo_folder)
    assert native.class_names == ["class_0", "class_1", "class_2"]
    assert native.inputs([1])[0].shape == (47, 57, 3)
    fixed = load_dataset(photo_folder, image_size=32)
    red = fixed.inputs([0])[0]
    assert red.shape == (32, 32, 3) and red[..., 0].mean() > 150 > red[..., 2].mean()


def test_memory_stays_within_the_byte_budget(photo_folder):
    one = 32 * 32 * 3
    cache = DecodeCache(size=32, max_bytes=4 * one)
    paths = sorted(str(p) for p in photo_folder.rglob("*.jpg"))
    for path in paths:
        cache.get(path)
        assert cache.nbytes <= 4 * one
    assert cache.nbytes == 4 * one and cache.misses == len(paths)
    cache.get(paths[-1])
    assert cache.hits == 1  # the most recent stayed
    cache.get(paths[0])
    assert cache.misses == len(paths) + 1  # the oldest was evicted


def test_disk_cache_serves_a_new_process_and_notices_edits(photo_folder, tmp_path):
    path = str(next(photo_folder.rglob("*.jpg")))
    first = DecodeCache(size=16, disk_dir=tmp_path / "disk")
    a = first.get(path)
    second = DecodeCache(size=16, disk_dir=tmp_path / "disk")
    b = second.get(path)
    assert second.disk_hits == 1 and np.array_equal(a, b)
    stat = os.stat(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    third = DecodeCache(size=16, disk_dir=tmp_path / "disk")
    third.get(path)
    assert third.disk_hits == 0  # a changed file is decoded afresh
    assert decode_image(path, 16).shape == (16, 16, 3)


def test_empty_class_folder_and_unreadable_image_are_named(photo_folder):
    (photo_folder / "empty_class").mkdir()
    with pytest.raises(DatasetError, match="empty_class holds no images"):
        load_dataset(photo_folder)
    (photo_folder / "empty_class" / "broken.png").write_bytes(b"not a png")
    ds = load_dataset(photo_folder)
    broken = ds.items.index(str(photo_folder / "empty_class" / "broken.png"))
    with pytest.raises(DatasetError, match=r"cannot decode image file .*broken\.png"):
        ds.inputs([broken])


def test_folder_without_class_folders_and_splits_are_refused(tmp_path, photo_folder):
    with pytest.raises(DatasetError, match="no class sub-folders"):
        load_dataset(tmp_path / "photos" / "class_0")
    with pytest.raises(DatasetError, match="has no split 'test'"):
        load_dataset(photo_folder, "test")
