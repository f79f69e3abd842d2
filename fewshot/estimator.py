"""A scikit-learn estimator over ``FewShotClassifier``, for ``Pipeline``, ``cross_val_score`` and
grid search (needs the ``sklearn`` extra: ``pip install 'fewshot[sklearn]'``).

``fit(X, y)`` registers every class of ``y`` from its rows of ``X`` on a fresh classifier;
``predict`` returns labels of ``classes_``; ``predict_proba`` is a softmax over the scores of all
classes (with ``metric="euclidean"`` and ``temperature=1`` it is the prototypical network's
posterior, softmax(−‖q − p‖²)).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from fewshot.classifier import FewShotClassifier, Label
from fewshot.encoders import Encoder
from fewshot.errors import InputError

#: Default softmax temperature per metric: cosine scores lie in [−1, 1], so they are sharpened
#: (10 is the prototypical head's cosine scale); −squared distances are used as they are.
DEFAULT_TEMPERATURE = {"cosine": 0.1, "euclidean": 1.0}


class FewShotEstimator(ClassifierMixin, BaseEstimator):
    """scikit-learn classifier that registers each class of ``y`` and answers by nearest class.

    Arguments:
        encoder: ``None`` for numeric feature rows, or an encoder (name or object) for raw
            inputs such as texts (then ``X`` is a list of inputs).
        metric, mode, n_neighbors, store, store_options: as for ``FewShotClassifier``.
        temperature: softmax temperature of ``predict_proba`` (``None``: 0.1 for cosine, 1.0
            for euclidean).

    Example:
        >>> from sklearn.model_selection import cross_val_score
        >>> cross_val_score(FewShotEstimator(metric="euclidean"), X, y, cv=5).mean()
    """

    def __init__(
        self,
        encoder: Encoder | str | None = None,
        metric: str = "cosine",
        mode: str = "prototype",
        n_neighbors: int = 5,
        store: str = "flat",
        store_options: Mapping[str, Any] | None = None,
        temperature: float | None = None,
    ) -> None:
        self.encoder = encoder
        self.metric = metric
        self.mode = mode
        self.n_neighbors = n_neighbors
        self.store = store
        self.store_options = store_options
        self.temperature = temperature

    def fit(self, X: Any, y: Any) -> FewShotEstimator:
        """Register one class per distinct value of ``y`` from its rows of ``X``; returns self."""
        X, y = self._check_fit(X, y)
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        self.classifier_ = FewShotClassifier(
            self.encoder,
            metric=self.metric,
            mode=self.mode,
            n_neighbors=self.n_neighbors,
            store=self.store,
            store_options=self.store_options,
        )
        groups: dict[Label, Any] = {}
        for position, label in enumerate(self.classes_):
            rows = np.flatnonzero(y == label)
            groups[position] = X[rows] if self.encoder is None else [X[i] for i in rows]
        self.classifier_.register_many(groups)  # classes are numbered: any label type works
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        """Scores of every class (N × n_classes, columns in ``classes_`` order), higher is better;
        with two classes, scikit-learn's convention: one column, positive for ``classes_[1]``."""
        scores = self._class_scores(X)
        return scores[:, 1] - scores[:, 0] if scores.shape[1] == 2 else scores

    def _class_scores(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        X = self._check_predict(X)
        result = self.classifier_.query(X, k=len(self.classes_))
        scores = np.full((len(X), len(self.classes_)), -np.inf)
        rows = np.repeat(np.arange(len(X)), result.labels.shape[1])
        columns = result.labels.ravel()
        known = np.array([column is not None for column in columns], dtype=bool)
        scores[rows[known], columns[known].astype(np.int64)] = result.scores.ravel()[known]
        return scores

    def predict(self, X: Any) -> np.ndarray:
        """The best class of each row (values of ``classes_``)."""
        check_is_fitted(self)
        return self.classes_[np.argmax(self._class_scores(X), axis=1)]

    def predict_proba(self, X: Any) -> np.ndarray:
        """Softmax of the class scores over ``temperature`` (N × n_classes, rows sum to 1)."""
        check_is_fitted(self)
        temperature = self.temperature or DEFAULT_TEMPERATURE[self.classifier_.metric]
        if not temperature > 0:
            raise InputError(f"temperature must be > 0, got {self.temperature!r}")
        logits = self._class_scores(X) / temperature
        logits -= logits.max(axis=1, keepdims=True)
        weights = np.exp(logits)
        return weights / weights.sum(axis=1, keepdims=True)

    def _check_fit(self, X: Any, y: Any) -> tuple[Any, np.ndarray]:
        if self.encoder is None:
            return validate_data(self, X, y, dtype=np.float64, y_numeric=False)
        y = np.asarray(y)
        if len(X) != len(y):
            raise InputError(f"X has {len(X)} inputs but y has {len(y)} labels")
        return list(X), y

    def _check_predict(self, X: Any) -> Any:
        if self.encoder is None:
            return validate_data(self, X, dtype=np.float64, reset=False)
        return list(X)

    def __getstate__(self) -> dict[str, Any]:
        """Unfitted estimators pickle (joblib sends clones to workers); fitted ones do not,
        because fewshot never pickles fitted state: save ``classifier_`` with its ``save``."""
        if hasattr(self, "classifier_"):
            raise TypeError(
                "a fitted FewShotEstimator is not picklable: fewshot never pickles fitted state. "
                "Save estimator.classifier_.save(directory) and FewShotClassifier.load it"
            )
        return dict(self.__dict__)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        if self.encoder is not None:
            tags.input_tags.two_d_array = False
            tags.input_tags.string = True
        return tags
