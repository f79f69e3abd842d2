"""The IVF store on real FAISS: exact until trained, same answers as flat when every list is
probed, removal by id, persistence, and selection through FewShotClassifier(store="ivf")."""

from __future__ import annotations

import json

import numpy as np
import pytest

import fewshot.stores.ivf as ivf
from fewshot import FewShotClassifier
from fewshot.errors import InputError
from fewshot.stores import FlatStore, IVFStore, VectorStore, make_store

rng = np.random.default_rng(7)


def clustered(n: int, dim: int, centres: int = 20) -> np.ndarray:
    """``n×dim`` float32 points around ``centres`` random centres (like classes of embeddings)."""
    middle = rng.normal(size=(centres, dim)).astype(np.float32)
    return middle[rng.integers(0, centres, n)] + 0.3 * rng.normal(size=(n, dim)).astype(np.float32)


def filled(metric: str, n: int = 2000, dim: int = 16, train_at: int = 1000) -> tuple:
    vectors = clustered(n, dim)
    ids = np.arange(10, 10 + n)
    store, flat = IVFStore(dim, metric, train_at=train_at), FlatStore(dim, metric)
    store.add(vectors[:500], ids[:500])
    store.add(vectors[500:], ids[500:])  # crosses train_at: trains, then holds all 2000
    flat.add(vectors, ids)
    return store, flat, vectors


def test_exact_until_train_at_then_trained():
    store = IVFStore(8, train_at=100)
    vectors = clustered(99, 8)
    store.add(vectors, np.arange(99))
    assert not store.trained and store.nprobe is None
    flat = FlatStore(8)
    flat.add(vectors, np.arange(99))
    np.testing.assert_array_equal(store.search(vectors[:5], 3)[1], flat.search(vectors[:5], 3)[1])
    store.add(clustered(1, 8), np.array([99]))
    assert store.trained and len(store) == 100
    assert sorted(store.ids().tolist()) == list(range(100))
    assert isinstance(store, VectorStore)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_probing_every_list_matches_flat_search(metric):
    store, flat, vectors = filled(metric)
    assert store.trained and len(store) == 2000
    store.nprobe = store.index.nlist
    queries = vectors[::50] + 0.01
    scores, ids = store.search(queries, 5)
    flat_scores, flat_ids = flat.search(queries, 5)
    np.testing.assert_array_equal(ids, flat_ids)
    np.testing.assert_allclose(scores, flat_scores, rtol=1e-4, atol=1e-4)


def test_default_nprobe_recalls_most_neighbours():
    store, flat, vectors = filled("cosine")
    assert store.nprobe == ivf.default_nprobe(store.index.nlist) < store.index.nlist
    _, ids = store.search(vectors[::10], 10)
    _, exact = flat.search(vectors[::10], 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids, exact)])
    assert recall >= 0.9


def test_remove_by_id_after_training_and_missing_results():
    store, _, vectors = filled("cosine")
    assert store.remove(np.array([10, 11, 12, 99999])) == 3
    assert len(store) == 1997
    store.nprobe = store.index.nlist
    _, ids = store.search(vectors[:3], 1)
    assert not set(ids[:, 0]) & {10, 11, 12}
    scores, ids = store.search(vectors[:1], 3000)
    assert (ids[0, 1997:] == -1).all() and np.isneginf(scores[0, 1997:]).all()


@pytest.mark.parametrize("count", [50, 2000])  # untrained and trained
def test_save_and_load_round_trip(tmp_path, count):
    vectors = clustered(count, 16)
    store = IVFStore(16, train_at=1000, nprobe=3)
    store.add(vectors, np.arange(count))
    store.save(tmp_path / "index.faiss")
    loaded = IVFStore.load(tmp_path / "index.faiss", 16, "cosine")
    assert loaded.trained == store.trained and loaded.nprobe == store.nprobe
    for a, b in zip(loaded.search(vectors[:20], 4), store.search(vectors[:20], 4)):
        np.testing.assert_array_equal(a, b)


def test_bad_arguments_name_the_fix():
    with pytest.raises(InputError, match="store must be one of"):
        make_store("hnsw", 8, "cosine")
    with pytest.raises(InputError, match="train_at"):
        IVFStore(8, train_at=5)
    with pytest.raises(InputError, match="store must be one of"):
        FewShotClassifier(store="annoy")
    with pytest.raises(InputError, match="store_options"):
        FewShotClassifier(store="flat", store_options={"nprobe": 3}).register("a", np.eye(2))


def test_classifier_with_ivf_store_trains_predicts_removes_and_reloads(tmp_path):
    centres = rng.normal(size=(400, 24)).astype(np.float32)
    clf = FewShotClassifier(encoder=None, store="ivf", store_options={"train_at": 300})
    clf.register_many({f"c{i}": centres[i] + 0.05 * rng.normal(size=(3, 24)) for i in range(400)})
    assert clf.index.trained
    queries = centres + 0.05 * rng.normal(size=centres.shape).astype(np.float32)
    predicted = clf.predict(queries)
    assert np.mean([p == f"c{i}" for i, p in enumerate(predicted)]) >= 0.95
    clf.remove("c0")
    assert "c0" not in clf.predict(queries[:5])
    clf.save(tmp_path / "clf")
    manifest = json.loads(next((tmp_path / "clf").rglob("manifest.json")).read_text())
    assert manifest["store"] == "ivf"
    loaded = FewShotClassifier.load(tmp_path / "clf")
    assert loaded.store == "ivf" and loaded.index.trained
    assert loaded.store_options == {"train_at": 300}
    assert loaded.predict(queries) == clf.predict(queries)
