"""The classifier contract, run against every store backend: flat, ivf and pgvector (a real
PostgreSQL). register / register_many / remove / predict / query / labels / threshold, both
modes and both metrics, label sets, streaming, bad input, save and load."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from fewshot import FewShotClassifier
from fewshot.errors import InputError, NotReadyError, UnknownLabelError
from fewshot.store_directory import current_snapshot

DIM = 12
rng = np.random.default_rng(5)
Make = Callable[..., FewShotClassifier]


@pytest.fixture(params=["flat", "ivf", "pgvector"])
def make(request: pytest.FixtureRequest) -> Iterator[Make]:
    """``make(**settings)``: a classifier on this backend (pgvector: a new table each time,
    or ``table=`` to open an existing one)."""
    made: list[FewShotClassifier] = []

    def build(table: str | None = None, **settings: object) -> FewShotClassifier:
        if request.param == "pgvector":
            server = request.getfixturevalue("pg_server")
            name = table or f"t_{uuid.uuid4().hex[:16]}"
            options: dict = {"dsn": server.dsn, "table": name}
        elif request.param == "ivf":  # trains at 39 vectors, then probes every list: exact
            options = {"train_at": 39, "nprobe": 10_000}
        else:
            options = {}
        clf = FewShotClassifier(store=request.param, store_options=options, **settings)
        made.append(clf)
        return clf

    yield build
    for clf in made:
        clf.close()


def classes(count: int = 6, shots: int = 4) -> dict:
    return {f"c{i}": rng.normal(size=(shots, DIM)) + 3 * np.eye(DIM)[i] for i in range(count)}


def reference_prototypes(data: dict, metric: str, queries: np.ndarray, k: int):
    """Labels and scores of the k nearest class means, computed with numpy."""
    labels = list(data)

    def unit(x):
        return x / np.linalg.norm(x, axis=-1, keepdims=True)

    if metric == "cosine":
        protos = unit(np.stack([unit(np.asarray(data[label])).mean(0) for label in labels]))
        scores = unit(queries) @ protos.T
    else:
        protos = np.stack([np.asarray(data[label]).mean(0) for label in labels])
        scores = -((queries[:, None, :] - protos[None]) ** 2).sum(-1)
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return np.array(labels, dtype=object)[order], np.take_along_axis(scores, order, 1)


@pytest.mark.parametrize("mode", ["prototype", "knn"])
@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_registering_and_querying_match_the_reference(make, mode, metric):
    clf = make(mode=mode, metric=metric, n_neighbors=3)
    data = classes(shots=7)  # 42 shots: the ivf store trains in knn mode
    clf.register_many(data)
    extra = rng.normal(size=(2, DIM)) + 3 * np.eye(DIM)[0]
    clf.register("c0", extra)  # extends c0: its prototype moves to the mean of all 9 shots
    data["c0"] = np.concatenate([data["c0"], extra])
    clf.register_many({5: rng.normal(size=(1, DIM)), "5": rng.normal(size=(2, DIM))})
    assert clf.labels == [*(f"c{i}" for i in range(6)), 5, "5"] and len(clf) == 8
    assert (clf.num_shots("c0"), clf.num_shots(5), clf.num_shots("5")) == (9, 1, 2)
    assert 5 in clf and "5" in clf and "6" not in clf and [1] not in clf
    np.testing.assert_allclose(clf.shots("c0"), data["c0"], atol=1e-6)
    if clf.store == "ivf" and mode == "knn":
        assert clf.index.trained
    queries = rng.normal(size=(25, DIM)) + 3 * np.eye(DIM)[rng.integers(0, 6, 25)]
    result = clf.query(queries, k=3)
    if mode == "prototype":
        clf.remove(5)
        clf.remove("5")
        labels, scores = reference_prototypes(data, metric, queries, 3)
        result = clf.query(queries, k=3)
        np.testing.assert_allclose(result.scores, scores, rtol=1e-5, atol=1e-4)
    else:
        flat = FewShotClassifier(mode=mode, metric=metric, n_neighbors=3)
        flat.register_many(data)
        flat.register_many({5: clf.shots(5), "5": clf.shots("5")})
        labels, scores = flat.query(queries, k=3).labels, flat.query(queries, k=3).scores
        np.testing.assert_allclose(result.scores, scores, rtol=1e-5, atol=1e-4)
    assert result.labels.tolist() == labels.tolist()
    assert clf.predict(queries) == list(result.labels[:, 0])


def test_remove_forgets_and_a_label_can_come_back(make):
    clf = make()
    data = classes(4)
    clf.register_many(data)
    clf.remove("c1")
    assert clf.labels == ["c0", "c2", "c3"] and "c1" not in clf
    assert "c1" not in set(clf.query(data["c1"], k=3).labels.ravel())
    with pytest.raises(UnknownLabelError, match=r"'c1'.*known: 'c0', 'c2', 'c3'"):
        clf.remove("c1")
    with pytest.raises(UnknownLabelError):
        clf.num_shots("c1")
    clf.register("c1", data["c1"])
    assert clf.labels == ["c0", "c2", "c3", "c1"]  # a new registration goes last
    assert clf.predict(data["c1"]) == ["c1"] * 4
    clf.clear()
    assert clf.labels == [] and len(clf) == 0


def test_threshold_padding_and_not_ready(make):
    clf = make(threshold=0.9)
    with pytest.raises(NotReadyError, match="register"):
        clf.predict(rng.normal(size=(1, DIM)))
    clf.register_many({"a": np.eye(DIM)[:1], "b": np.eye(DIM)[1:2]})
    result = clf.query(np.stack([np.eye(DIM)[0], np.eye(DIM)[2]]), k=4)
    assert result.labels[:, 2:].tolist() == [[None, None]] * 2
    assert np.isneginf(result.scores[:, 2:]).all() and result.rejected.tolist() == [False, True]
    assert clf.predict(np.stack([np.eye(DIM)[0], np.eye(DIM)[2]])) == ["a", None]
    assert clf.query(np.zeros((0, DIM)), k=2).labels.shape == (0, 2)


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"x": np.ones((1, DIM)), "y": np.full((1, DIM), np.nan)}, "NaN"),
        ({"x": np.ones((1, DIM)), "y": np.ones((1, DIM + 1))}, "dimension"),
        ({"x": np.ones((1, DIM)), "": np.ones((1, DIM))}, "non-empty"),
        ({"x": np.ones((1, DIM)), "y": np.ones((0, DIM))}, "no examples"),
        ([("c0", np.ones((1, DIM)))], "mapping"),
    ],
)
def test_bad_input_changes_nothing(make, bad, message):
    clf = make()
    clf.register_many(classes(2))
    before = (clf.labels, clf.num_shots("c0"))
    with pytest.raises(InputError, match=message):
        clf.register_many(bad)
    assert (clf.labels, clf.num_shots("c0")) == before


def test_label_sets_are_separate_and_answered_from_one_pass(make):
    clf = make(mode="knn", n_neighbors=1)
    intents, tenant = classes(3), {"c0": rng.normal(size=(2, DIM)), "z": np.eye(DIM)[:2]}
    clf.register_many(intents, label_set="intents")
    clf.register_many(tenant, label_set="tenant-b")
    assert clf.label_sets == ["intents", "tenant-b"] and clf.labels == []
    assert clf.labels_in("tenant-b") == ["c0", "z"]
    assert clf.num_shots("c0", label_set="intents") == 4
    assert clf.num_shots("c0", label_set="tenant-b") == 2
    queries = rng.normal(size=(6, DIM))
    both = clf.query_sets(queries, k=2)
    assert set(both) == {"intents", "tenant-b"}
    for name, result in both.items():
        alone = clf.query(queries, k=2, label_set=name)
        assert result.labels.tolist() == alone.labels.tolist()
        np.testing.assert_allclose(result.scores, alone.scores, atol=1e-6)
    assert set(both["tenant-b"].labels.ravel()) <= {"c0", "z"}
    clf.remove("c0", label_set="tenant-b")
    assert clf.labels_in("intents") == ["c0", "c1", "c2"]
    with pytest.raises(NotReadyError, match="'nowhere'"):
        clf.query(queries, label_set="nowhere")
    with pytest.raises(InputError, match="label_set"):
        clf.register("x", np.ones((1, DIM)), label_set="")
    with pytest.raises(InputError, match="wrap one in a list"):
        clf.query_sets(queries, label_sets="intents")
    with pytest.raises(InputError, match=r"one label set|shared"):
        clf.finetune(part="head")


def test_streamed_registration_equals_a_mapping(make):
    data = classes(5, shots=7)
    pairs = [(row, label) for label, rows in data.items() for row in rows]
    order = rng.permutation(len(pairs))
    streamed = make()
    assert streamed.register_many((pairs[i] for i in order), chunk_size=6, progress=False) == 35
    loader = DataLoader(
        TensorDataset(torch.tensor(np.stack([p[0] for p in pairs])), torch.arange(35) // 7),
        batch_size=8,
    )
    assert streamed.register_many(loader, label_set="ints", chunk_size=5, progress=False) == 35
    assert streamed.labels_in("ints") == [0, 1, 2, 3, 4]
    for label, rows in data.items():
        mine = [pairs[i][0] for i in order if pairs[i][1] == label]
        np.testing.assert_allclose(streamed.shots(label), np.stack(mine), atol=1e-6)
        np.testing.assert_allclose(streamed.shots(int(label[1]), label_set="ints"), rows, atol=1e-6)
    broken = [*pairs[:10], (np.full(DIM, np.nan), "c9"), *pairs[10:]]
    fresh = make()
    with pytest.raises(InputError, match="10 rows were registered before this chunk"):
        fresh.register_many(broken, chunk_size=5, progress=False)
    assert sum(fresh.num_shots(label) for label in fresh.labels) == 10


def test_save_and_load_answer_identically(make, tmp_path):
    clf = make(mode="knn", metric="euclidean", threshold=-50.0, n_neighbors=2)
    clf.register_many(classes(4))
    clf.register_many({"t": rng.normal(size=(3, DIM))}, label_set="other")
    clf.save(tmp_path / "s")
    loaded = FewShotClassifier.load(tmp_path / "s")
    queries = rng.normal(size=(10, DIM)) * 3
    for name in ("default", "other"):
        a, b = clf.query(queries, k=3, label_set=name), loaded.query(queries, k=3, label_set=name)
        assert a.labels.tolist() == b.labels.tolist()
        np.testing.assert_allclose(a.scores, b.scores, atol=1e-5)
    assert (loaded.threshold, loaded.n_neighbors, loaded.store) == (-50.0, 2, clf.store)
    manifest = json.loads((current_snapshot(tmp_path / "s") / "manifest.json").read_text())
    assert manifest["format_version"] == 3
    if clf.store == "pgvector":  # the address, not the vectors
        assert manifest["classes"] == [] and "label_sets" not in manifest
        assert manifest["store_address"]["table"] == clf.store_options["table"]
        loaded.register("late", rng.normal(size=(1, DIM)))
        assert "late" in clf  # the same table: the original sees it at once
    else:
        assert [entry["name"] for entry in manifest["label_sets"]] == ["other"]
    loaded.close()
