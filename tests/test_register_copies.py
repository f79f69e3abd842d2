"""Registered feature vectors are the classifier's own: editing the caller's array later changes
neither the stored shots nor the predictions."""

from __future__ import annotations

import numpy as np
import torch

from fewshot import FewShotClassifier


def test_editing_registered_arrays_afterwards_changes_nothing():
    features = np.eye(4, dtype=np.float32)
    tensor = torch.eye(4)[2:]
    clf = FewShotClassifier(encoder=None)
    clf.register_many({"a": features[:1], "b": features[1:2], "c": tensor})
    features[:] = 0.0
    tensor[:] = 0.0
    np.testing.assert_array_equal(clf.shots("a"), np.eye(4, dtype=np.float32)[:1])
    np.testing.assert_array_equal(clf.shots("c"), np.eye(4, dtype=np.float32)[2:])
    assert clf.predict(np.eye(4, dtype=np.float32)[[1, 0]]) == ["b", "a"]


def test_registered_shots_never_share_memory_with_the_input():
    caller = np.ones((3, 4), dtype=np.float32)
    clf = FewShotClassifier(encoder=None)
    clf.register("a", caller)
    assert not np.shares_memory(clf._shots["a"], caller)
