"""The vector-store contract, run against every backend: exact results against numpy, ids,
removal, missing results, bad input, persistence. A new backend joins by adding a factory.

``pgvector`` is not a vector store under ids: it keeps whole classes (labels, shots,
prototypes) so that processes share them, so it runs the classifier-level contract of
``tests/classifier/test_backends.py`` with flat and ivf instead."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from fewshot.errors import InputError, StoreFormatError
from fewshot.stores import FlatStore, IVFStore, VectorStore

rng = np.random.default_rng(0)


def exact_ivf(dim: int, metric: str) -> IVFStore:
    """An IVF store that trains at 39 vectors and then probes every list (so stays exact)."""
    store = IVFStore(dim, metric, train_at=39)
    store.nprobe = 10_000  # capped at nlist once trained
    return store


FACTORIES: dict[str, Callable[[int, str], VectorStore]] = {"flat": FlatStore, "ivf": exact_ivf}


@pytest.fixture(params=sorted(FACTORIES))
def make(request) -> Callable[..., VectorStore]:
    def build(dim: int, metric: str = "cosine") -> VectorStore:
        return FACTORIES[request.param](dim, metric)

    return build


def test_cosine_search_matches_numpy_brute_force(make):
    vectors = rng.normal(size=(500, 32)).astype(np.float32)
    queries = rng.normal(size=(40, 32)).astype(np.float32)
    store = make(32, "cosine")
    store.add(vectors, np.arange(100, 600))
    scores, ids = store.search(queries, 5)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    expected = (queries / np.linalg.norm(queries, axis=1, keepdims=True)) @ unit.T
    top = np.argsort(-expected, axis=1)[:, :5]
    np.testing.assert_array_equal(ids, top + 100)
    np.testing.assert_allclose(scores, np.take_along_axis(expected, top, 1), atol=1e-5)
    assert isinstance(store, VectorStore) and len(store) == 500


def test_euclidean_scores_are_negative_squared_distances(make):
    vectors = rng.normal(size=(50, 8)).astype(np.float32)
    store = make(8, "euclidean")
    store.add(vectors, np.arange(50))
    scores, ids = store.search(vectors[:3] + 0.01, 1)
    np.testing.assert_array_equal(ids[:, 0], [0, 1, 2])
    np.testing.assert_allclose(scores[:, 0], -np.full(3, 8 * 0.01**2), rtol=1e-2)


def test_k_beyond_size_gives_minus_one_and_minus_inf(make):
    store = make(4)
    store.add(np.eye(4, dtype=np.float32)[:2], np.array([7, 9]))
    scores, ids = store.search(np.eye(4, dtype=np.float32)[:1], 4)
    assert ids[0, :2].tolist() == [7, 9] and ids[0, 2:].tolist() == [-1, -1]
    assert np.isneginf(scores[0, 2:]).all()


def test_remove_by_id_and_len(make):
    store = make(4)
    store.add(np.eye(4, dtype=np.float32)[:3], np.array([1, 2, 3]))
    assert store.remove(np.array([2, 42])) == 1
    assert len(store) == 2 and sorted(store.ids().tolist()) == [1, 3]
    _, ids = store.search(np.eye(4, dtype=np.float32)[1:2], 2)
    assert 2 not in ids


def test_float64_and_non_contiguous_inputs_are_accepted(make):
    store = make(4)
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
def test_bad_vectors_are_refused(make, bad, message):
    store = make(4)
    with pytest.raises(InputError, match=message):
        store.add(bad, np.arange(len(np.atleast_2d(bad))))
    with pytest.raises(InputError, match="ids"):
        store.add(np.eye(4), np.arange(3))
    with pytest.raises(InputError, match="k must be"):
        store.search(np.eye(4), 0)
    assert len(store) == 0


def test_save_and_load_round_trip(make, tmp_path):
    store = make(16, "euclidean")
    vectors = rng.normal(size=(60, 16)).astype(np.float32)
    store.add(vectors, np.arange(5, 65))
    store.save(tmp_path / "i.faiss")
    loaded = type(store).load(tmp_path / "i.faiss", 16, "euclidean")
    assert sorted(loaded.ids().tolist()) == list(range(5, 65))
    np.testing.assert_array_equal(loaded.search(vectors, 3)[1], store.search(vectors, 3)[1])
    with pytest.raises(StoreFormatError, match="metric"):
        type(store).load(tmp_path / "i.faiss", 16, "cosine")
    (tmp_path / "junk.faiss").write_bytes(b"not an index")
    with pytest.raises(StoreFormatError, match=r"junk\.faiss"):
        type(store).load(tmp_path / "junk.faiss", 16, "cosine")
