"""Property-based: random register/remove/query sequences agree with a tiny numpy reference model."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from fewshot import FewShotClassifier
from fewshot.errors import InputError, UnknownLabelError

DIM = 4
LABELS = st.sampled_from(["a", "b", "ß", "日本", "🙂", 0, 7, "a b"])
VECTORS = arrays(
    np.float64,
    st.tuples(st.integers(1, 4), st.just(DIM)),
    elements=st.floats(-8, 8, allow_nan=False, width=32).filter(lambda x: abs(x) > 1e-3),
)
QUERIES = arrays(
    np.float64,
    st.tuples(st.integers(0, 5), st.just(DIM)),
    elements=st.floats(-8, 8, allow_nan=False, width=32),
)


def unit(rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=-1, keepdims=True)
    return np.divide(rows, norms, out=np.zeros_like(rows), where=norms > 0)


class Reference:
    """label → list of shots; prototypes and scores computed directly with numpy."""

    def __init__(self, metric: str) -> None:
        self.metric = metric
        self.shots: dict[object, list[np.ndarray]] = {}

    def prototype(self, label: object) -> np.ndarray:
        shots = np.stack(self.shots[label]).astype(np.float32).astype(np.float64)
        if self.metric == "cosine":
            return unit(unit(shots).mean(axis=0))
        return shots.mean(axis=0)

    def scores(self, queries: np.ndarray) -> np.ndarray:
        """N×C scores against every class, in registration order (higher is better)."""
        protos = np.stack([self.prototype(label) for label in self.shots])
        queries = queries.astype(np.float32).astype(np.float64)
        if self.metric == "cosine":
            return unit(queries) @ protos.T
        return -((queries[:, None, :] - protos[None, :, :]) ** 2).sum(axis=-1)


def make_machine(metric: str) -> type[RuleBasedStateMachine]:
    class ClassifierMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.clf = FewShotClassifier(metric=metric)
            self.ref = Reference(metric)

        @rule(label=LABELS, vectors=VECTORS)
        def register(self, label, vectors):
            self.clf.register(label, vectors)
            self.ref.shots.setdefault(label, []).extend(vectors)

        @rule(batch=st.dictionaries(LABELS, VECTORS, min_size=1, max_size=3))
        def register_many(self, batch):
            self.clf.register_many(batch)
            for label, vectors in batch.items():
                self.ref.shots.setdefault(label, []).extend(vectors)

        @rule(label=LABELS, vectors=VECTORS, row=st.integers(0, 3))
        def register_with_a_nan_changes_nothing(self, label, vectors, row):
            vectors = vectors.copy()
            vectors[row % len(vectors), 0] = np.nan
            with pytest.raises(InputError, match="NaN"):
                self.clf.register_many({"fresh": np.ones((1, DIM)), label: vectors})

        @rule(label=LABELS)
        def remove(self, label):
            if label in self.ref.shots:
                self.clf.remove(label)
                del self.ref.shots[label]
            else:
                with pytest.raises(UnknownLabelError):
                    self.clf.remove(label)

        @precondition(lambda self: self.ref.shots)
        @rule(queries=QUERIES, k=st.integers(1, 4))
        def query(self, queries, k):
            result = self.clf.query(queries, k=k)
            assert result.labels.shape == result.scores.shape == (len(queries), k)
            if not len(queries):
                return
            expected = self.ref.scores(queries)
            names = list(self.ref.shots)
            best = np.sort(expected, axis=1)[:, ::-1]
            found = min(k, len(names))
            tolerance = 1e-4 * (1 if metric == "cosine" else 1 + np.abs(best).max())
            np.testing.assert_allclose(result.scores[:, :found], best[:, :found], atol=tolerance)
            assert np.isneginf(result.scores[:, found:]).all()
            for row in range(len(queries)):
                for column in range(found):  # each named label has the score it was given
                    label = result.labels[row, column]
                    direct = expected[row, names.index(label)]
                    assert abs(direct - result.scores[row, column]) <= tolerance
                assert all(label is None for label in result.labels[row, found:])
            predicted = self.clf.predict(queries)
            top = best[:, 0]
            for row, label in enumerate(predicted):
                assert abs(expected[row, names.index(label)] - top[row]) <= tolerance

        @invariant()
        def same_classes(self):
            assert self.clf.labels == list(self.ref.shots)
            for label, shots in self.ref.shots.items():
                np.testing.assert_array_equal(
                    self.clf.shots(label), np.stack(shots).astype(np.float32)
                )
            if self.clf.index is not None:
                assert len(self.clf.index) == len(self.ref.shots)

    ClassifierMachine.TestCase.settings = settings(
        max_examples=40,
        stateful_step_count=15,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    return ClassifierMachine


TestCosineClassifier = make_machine("cosine").TestCase
TestEuclideanClassifier = make_machine("euclidean").TestCase


@pytest.mark.parametrize("magnitude", [1.2e-38, 1e-20, 1e25])
def test_tiny_and_huge_vectors_keep_exact_cosine(magnitude):
    """Found by the machine above: FAISS's normalize_L2 under/overflowed on such rows."""
    clf = FewShotClassifier()
    clf.register_many({"diag": np.ones((1, DIM)), "axis": np.eye(DIM)[:1]})
    result = clf.query(np.full((1, DIM), magnitude), k=2)
    assert result.labels[0].tolist() == ["diag", "axis"]
    np.testing.assert_allclose(result.scores[0], [1.0, 0.5], atol=1e-6)
