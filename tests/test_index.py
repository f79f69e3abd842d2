"""The FAISS flat store: exact results against numpy, ids, removal, missing results, persistence."""

from __future__ import annotations

import numpy as np
import pytest

from fewshot.errors import InputError, StoreFormatError
from fewshot.stores import FlatStore, VectorStore

rng = np.random.default_rng(0)


def test_cosine_search_matches_numpy_brute_force():
    vectors = rng.normal(size=(500, 32)).astype(np.float32)
    queries = rng.normal(size=(40, 32)).astype(np.float32)
    store = FlatStore(32, "cosine")
    store.add(vectors, np.arange(100, 600))
    scores, ids = store.search(queries, 5)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    expected = (queries / np.linalg.norm(queries, axis=1, keepdims=True)) @ unit.T
    top = np.argsort(-expected, axis=1)[:, :5]
    np.testing.assert_array_equal(ids, top + 100)
    np.testing.assert_allclose(scores, np.take_along_axis(expected, top, 1), atol=1e-5)
    assert isinstance(store, VectorStore)


def test_euclidean_scores_are_negative_squared_distances():
    vectors = rng.normal(size=(50, 8)).astype(np.float32)
    store = FlatStore(8, "euclidean")
    store.add(vectors, np.arange(50))
    scores, ids = store.search(vectors[:3] + 0.01, 1)
    np.testing.assert_array_equal(ids[:, 0], [0, 1, 2])
    np.testing.assert_allclose(scores[:, 0], -np.full(3, 8 * 0.01**2), rtol=1e-2)


def test_k_beyond_size_gives_minus_one_and_minus_inf():
    store = FlatStore(4)
    store.add(np.eye(4, dtype=np.float32)[:2], np.array([7, 9]))
    scores, ids = store.search(np.eye(4, dtype=np.float32)[:1], 4)
    assert ids[0, :2].tolist() == [7, 9] and ids[0, 2:].tolist() == [-1, -1]
    assert np.isneginf(scores[0, 2:]).all()


def test_remove_by_id_and_len():
    store = FlatStore(4)
    store.add(np.eye(4, dtype=np.float32)[:3], np.array([1, 2, 3]))
    assert store.remove(np.array([2, 42])) == 1
    assert len(store) == 2
    _, ids = store.search(np.eye(4, dtype=np.float32)[1:2], 2)
    assert 2 not in ids


def test_float64_and_non_contiguous_inputs_are_accepted():
    store = FlatStore(4)
    data = np.asfortranarray(rng.normal(size=(6, 4)))
    store.add(data, np.arange(6))
    _, ids = store.search(data[::2], 1)
    assert ids[:, 0].tolist() == [0, 2, 4]


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros((2, 5)), "dimension 5"),
        (np.zeros(4), "2-D"),
        (np.array([[np.nan, 0, 0, 0]]), "NaN"),
    ],
)
def test_bad_vectors_are_refused(bad, message):
    store = FlatStore(4)
    with pytest.raises(InputError, match=message):
        store.add(bad, np.arange(len(np.atleast_2d(bad))))
    assert len(store) == 0


def test_save_and_load_round_trip(tmp_path):
    store = FlatStore(16, "euclidean")
    vectors = rng.normal(size=(20, 16)).astype(np.float32)
    store.add(vectors, np.arange(5, 25))
    store.save(tmp_path / "i.faiss")
    loaded = FlatStore.load(tmp_path / "i.faiss", 16, "euclidean")
    assert sorted(loaded.ids().tolist()) == list(range(5, 25))
    np.testing.assert_array_equal(loaded.search(vectors, 3)[1], store.search(vectors, 3)[1])
    with pytest.raises(StoreFormatError, match="metric"):
        FlatStore.load(tmp_path / "i.faiss", 16, "cosine")
    (tmp_path / "junk.faiss").write_bytes(b"not an index")
    with pytest.raises(StoreFormatError, match=r"junk\.faiss"):
        FlatStore.load(tmp_path / "junk.faiss", 16, "cosine")
