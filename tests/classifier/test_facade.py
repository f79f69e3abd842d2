"""FewShotClassifier on real encoders and real data: registering, querying, rejection, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import fewshot
from fewshot import FewShotClassifier
from fewshot.errors import InputError, NotReadyError, UnknownLabelError

rng = np.random.default_rng(1)


def accuracy(clf: FewShotClassifier, pairs: list[tuple[str, str]]) -> float:
    predicted = clf.predict([text for text, _ in pairs])
    return float(np.mean([p == label for p, (_, label) in zip(predicted, pairs)]))


@pytest.fixture(scope="module")
def text_clf(minilm, intents10) -> FewShotClassifier:
    clf = FewShotClassifier(minilm)
    clf.register_many(intents10["shots"])
    return clf


def test_minilm_prototypes_classify_real_intents(text_clf, intents10):
    assert text_clf.labels == list(intents10["shots"])
    # 10 CLINC150 intents, 5 shots each, 300 test utterances: frozen MiniLM is far above chance.
    assert accuracy(text_clf, intents10["test"]) > 0.85


def test_query_returns_top_k_arrays_best_first(text_clf, intents10):
    texts = [text for text, _ in intents10["test"][:7]]
    result = text_clf.query(texts, k=3)
    assert result.labels.shape == (7, 3) and result.scores.shape == (7, 3)
    assert result.scores.dtype == np.float32
    assert (np.diff(result.scores, axis=1) <= 0).all()
    assert all(len(set(row)) == 3 for row in result.labels)
    assert list(result.labels[:, 0]) == text_clf.predict(texts)


def test_k_larger_than_the_number_of_classes_pads_with_none(minilm):
    clf = FewShotClassifier(minilm)
    clf.register_many({"a": ["apples and pears"], "b": ["cars and trucks"]})
    result = clf.query(["a red apple"], k=4)
    assert result.labels[0, 0] == "a" and result.labels[0, 2:].tolist() == [None, None]
    assert np.isneginf(result.scores[0, 2:]).all()


def test_incremental_registration_equals_batch_registration(minilm, intents10):
    batch = FewShotClassifier(minilm)
    batch.register_many(intents10["shots"])
    incremental = FewShotClassifier(minilm)
    for label, texts in intents10["shots"].items():
        for text in texts:  # one shot at a time: the prototype is updated each time
            incremental.register(label, [text])
    queries = [text for text, _ in intents10["test"][::10]]
    a, b = batch.query(queries, k=3), incremental.query(queries, k=3)
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_allclose(a.scores, b.scores, atol=1e-5)


def test_extending_a_label_moves_its_prototype_to_the_mean():
    clf = FewShotClassifier()
    clf.register("x", np.array([[1.0, 0.0, 0.0]]))
    clf.register("y", np.array([[0.0, 1.0, 0.0]]))
    clf.register("x", np.array([[0.0, 0.0, 1.0]]))  # x's mean is now (0.5, 0, 0.5)
    assert clf.num_shots("x") == 2
    result = clf.query(np.array([[1.0, 0.0, 1.0]]), k=1)
    assert result.labels[0, 0] == "x"
    np.testing.assert_allclose(result.scores[0, 0], 1.0, atol=1e-6)


def test_remove_forgets_a_class_and_frees_its_vectors(minilm, intents10):
    clf = FewShotClassifier(minilm)
    clf.register_many(intents10["shots"])
    gone = clf.labels[0]
    clf.remove(gone)
    assert gone not in clf.labels and len(clf) == 9
    assert len(clf.index) == 9
    result = clf.query([t for t, label in intents10["test"] if label == gone][:10], k=9)
    assert gone not in set(result.labels.ravel())
    with pytest.raises(UnknownLabelError, match=repr(gone)):
        clf.remove(gone)
    clf.register(gone, intents10["shots"][gone])  # can come back
    assert accuracy(clf, intents10["test"]) > 0.85


def test_knn_mode_votes_over_nearest_shots(minilm, intents10):
    clf = FewShotClassifier(minilm, mode="knn", n_neighbors=5)
    clf.register_many(intents10["shots"])
    assert len(clf.index) == sum(len(v) for v in intents10["shots"].values())
    assert accuracy(clf, intents10["test"]) > 0.8
    result = clf.query([intents10["test"][0][0]], k=3)
    assert result.labels.shape == (1, 3) and None not in result.labels[0]
    assert (np.diff(result.scores[0]) <= 0).all()


def test_euclidean_metric_on_features():
    centres = rng.normal(size=(4, 16)) * 5
    clf = FewShotClassifier(metric="euclidean")
    clf.register_many({f"c{i}": centres[i] + rng.normal(size=(3, 16)) * 0.1 for i in range(4)})
    queries = centres + rng.normal(size=(4, 16)) * 0.1
    assert clf.predict(queries) == ["c0", "c1", "c2", "c3"]
    assert (clf.query(queries).scores <= 0).all()


def test_threshold_rejects_out_of_scope_queries(minilm, intents10, clinc):
    clf = FewShotClassifier(minilm)
    clf.register_many(intents10["shots"])
    names = list(intents10["shots"])
    in_val = [text for name in names for text in clinc["val"][name]]
    choice = clf.calibrate_threshold(in_val, clinc["oos_val"])
    assert clf.threshold == choice.threshold
    assert choice.in_scope_acceptance > 0.7 and choice.out_of_scope_rejection > 0.7
    oos_predictions = clf.predict(clinc["oos_test"][:200])
    assert np.mean([p is None for p in oos_predictions]) > 0.6
    in_predictions = clf.predict([text for text, _ in intents10["test"]])
    assert np.mean([p is not None for p in in_predictions]) > 0.7
    assert clf.query(clinc["oos_test"][:50]).rejected.mean() > 0.5


def test_calibration_to_a_target_acceptance_rate(text_clf, clinc):
    clf = FewShotClassifier(text_clf.encoder)
    clf.register_many({name: clinc["shots"][name] for name in text_clf.labels})
    in_val = [text for name in clf.labels for text in clinc["val"][name]]
    choice = clf.calibrate_threshold(in_val, in_scope_acceptance=0.9)
    assert choice.in_scope_acceptance >= 0.9
    assert choice.out_of_scope_rejection is None
    assert np.mean([p is not None for p in clf.predict(in_val)]) >= 0.9


def test_pick_threshold_rates():
    inside, outside = np.linspace(0.5, 1.0, 101), np.linspace(0.0, 0.6, 61)
    assert fewshot.pick_threshold(inside, in_scope_acceptance=0.8).in_scope_acceptance >= 0.8
    choice = fewshot.pick_threshold(inside, outside, out_of_scope_rejection=0.95)
    assert choice.out_of_scope_rejection >= 0.95
    best = fewshot.pick_threshold(inside, outside)
    assert 0.5 <= best.threshold <= 0.61
    with pytest.raises(InputError, match="not both"):
        fewshot.pick_threshold(inside, outside, in_scope_acceptance=0.9, out_of_scope_rejection=0.9)


def test_images_from_real_files_pil_and_arrays_embed_identically(effnet, tmp_path):
    from PIL import Image

    image = Image.fromarray(rng.integers(0, 255, size=(120, 90, 3), dtype=np.uint8))
    image.save(tmp_path / "x.png")
    as_array = np.array(image)
    as_tensor = torch.from_numpy(as_array).permute(2, 0, 1).float() / 255
    embedded = effnet.embed(
        [image, tmp_path / "x.png", str(tmp_path / "x.png"), as_array, as_tensor]
    )
    assert embedded.shape == (5, 1280) and embedded.dtype == np.float32
    np.testing.assert_allclose(embedded, np.repeat(embedded[:1], 5, axis=0), atol=1e-4)


def test_omniglot_characters_with_efficientnet(effnet, data_root):
    """Real images: 5 Omniglot characters, 3 drawers as shots, the other drawers as queries."""
    import io
    import zipfile

    from PIL import Image

    with zipfile.ZipFile(data_root / "omniglot/images_background.zip") as archive:
        names = sorted(n for n in archive.namelist() if n.endswith(".png") and "/Latin/" in n)
        by_char: dict[str, list] = {}
        for name in names:
            by_char.setdefault(name.split("/")[-2], []).append(name)
        chars = sorted(by_char)[:5]
        images = {
            c: [Image.open(io.BytesIO(archive.read(n))).convert("RGB") for n in by_char[c][:8]]
            for c in chars
        }
    clf = FewShotClassifier(effnet)
    clf.register_many({c: images[c][:3] for c in chars})
    queries = [(img, c) for c in chars for img in images[c][3:]]
    predicted = clf.predict([img for img, _ in queries])
    assert np.mean([p == c for p, (_, c) in zip(predicted, queries)]) >= 0.6  # chance is 0.2


# ------------------------------------------------------------------------------------ errors
def test_query_before_any_registration_is_a_clear_error(minilm):
    with pytest.raises(NotReadyError, match="register"):
        FewShotClassifier(minilm).predict(["hello"])


@pytest.mark.parametrize("label", ["", "   ", None, 3.5, True, ("a",)])
def test_bad_labels_are_refused(minilm, label):
    clf = FewShotClassifier(minilm)
    with pytest.raises(InputError, match="label"):
        clf.register(label, ["hello"])
    assert clf.labels == []


def test_unicode_and_integer_labels_work(tmp_path):
    clf = FewShotClassifier()
    clf.register_many({"café ☕": np.ones((2, 4)), 7: -np.ones((2, 4)), np.int64(8): np.eye(4)[:2]})
    assert clf.labels == ["café ☕", 7, 8]
    clf.save(tmp_path / "s")
    loaded = FewShotClassifier.load(tmp_path / "s")
    assert loaded.labels == ["café ☕", 7, 8]
    assert loaded.predict(np.ones((1, 4))) == ["café ☕"]


@pytest.mark.parametrize(
    "examples, message",
    [
        ([], "no examples"),
        ("just one string", "not one string"),
        ([1, 2], "not str"),
        (np.zeros((2, 384)), "not str"),
    ],
)
def test_bad_text_examples_leave_the_classifier_unchanged(text_clf, examples, message):
    before = (text_clf.labels, len(text_clf.index))
    with pytest.raises(InputError, match=message):
        text_clf.register("new", examples)
    assert (text_clf.labels, len(text_clf.index)) == before


def test_register_many_is_all_or_nothing(minilm):
    clf = FewShotClassifier(minilm)
    clf.register("kept", ["hello"])
    with pytest.raises(InputError):
        clf.register_many({"fine": ["good example"], "broken": [None]})
    assert clf.labels == ["kept"] and len(clf.index) == 1
    with pytest.raises(InputError, match="empty mapping"):
        clf.register_many({})
    with pytest.raises(InputError, match="mapping"):
        clf.register_many([("a", ["x"])])


def test_bad_k_and_settings(text_clf):
    for k in (0, -1, 1.5, "3", True):
        with pytest.raises(InputError, match="k must be"):
            text_clf.query(["hi"], k=k)
    with pytest.raises(InputError, match="metric"):
        FewShotClassifier(metric="manhattan")
    with pytest.raises(InputError, match="mode"):
        FewShotClassifier(mode="svm")
    with pytest.raises(InputError, match="threshold"):
        FewShotClassifier(threshold=float("nan"))


def test_empty_query_batch_gives_empty_result(text_clf):
    result = text_clf.query([], k=2)
    assert result.labels.shape == (0, 2) and result.scores.shape == (0, 2)
    assert text_clf.predict([]) == []


def test_one_feature_vector_is_one_example():
    clf = FewShotClassifier()
    clf.register("a", np.eye(3)[:2])
    clf.register("b", np.array([0.0, 0.0, 1.0]))
    assert clf.num_shots("b") == 1
    assert clf.predict(np.array([0.0, 0.1, 0.9])) == ["b"]
