"""The scikit-learn estimator: scikit-learn's own estimator checks, and use in a pipeline,
cross-validation and grid search on real data."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sklearn")
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from fewshot.estimator import FewShotEstimator


def not_applicable(estimator) -> dict[str, str]:
    """scikit-learn checks that test a behaviour fewshot refuses on purpose."""
    return {
        "check_estimators_pickle": "fewshot never pickles fitted state (save() writes files)",
        "check_methods_subset_invariance": (
            "float32 FAISS search: a single query and a batch take different kernels, so "
            "probabilities differ by ~1e-7, above this check's 1e-7 tolerance"
        ),
    }


@parametrize_with_checks(
    [FewShotEstimator(), FewShotEstimator(metric="euclidean", mode="knn")],
    expected_failed_checks=not_applicable,
)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def test_cross_validation_and_grid_search_on_features():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(5, 16)) * 3
    y = np.repeat(np.arange(5), 12)
    X = centres[y] + rng.normal(size=(60, 16))
    pipeline = make_pipeline(StandardScaler(), FewShotEstimator(metric="euclidean"))
    assert cross_val_score(pipeline, X, y, cv=3).mean() > 0.9
    search = GridSearchCV(FewShotEstimator(), {"mode": ["prototype", "knn"]}, cv=3).fit(X, y)
    assert search.best_score_ > 0.9
    proba = search.best_estimator_.predict_proba(X[:4])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_text_inputs_through_minilm(minilm, intents10):
    texts = [text for text, _ in intents10["test"]]
    labels = np.array([label for _, label in intents10["test"]])
    estimator = FewShotEstimator(encoder=minilm)
    estimator.fit(texts[::3], labels[::3])
    assert set(estimator.classes_) == set(labels)
    assert estimator.score(texts[1::3], labels[1::3]) > 0.8
