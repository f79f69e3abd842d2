"""TrainConfig: the metric vocabulary of fewshot, and contradictory settings refused when the
config is made (before any data is read), with messages naming the setting and the fix."""

from __future__ import annotations

import pytest

from episodes.config import TrainConfig, train_defaults
from fewshot.errors import InputError


def config(**over) -> TrainConfig:
    return TrainConfig(data_root="unused", out="unused", **over)


def test_metric_names_follow_fewshot_metrics():
    assert config().metric is None  # resolved by the network: see test_train_data
    assert config(metric="sqeuclidean").metric == "euclidean"  # old commands and configs
    assert config(metric="cosine").metric == "cosine"
    with pytest.raises(InputError, match="metric must be one of"):
        config(metric="manhattan")


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"holdout_drawers": 0}, r"holdout_drawers \(--holdout-drawers\) must be in 1..19"),
        ({"holdout_drawers": 20}, "holdout_drawers"),
        ({"val_alphabets": -1}, r"val_alphabets \(--val-alphabets\) must be >= 0"),
        ({"split": "vinyals-train", "val_alphabets": 2}, "--val-split vinyals-val"),
        ({"projection": 8, "freeze_stages": 1}, "drop `freeze_stages`"),
    ],
)
def test_contradictions_are_refused_when_made(over, message):
    with pytest.raises(InputError, match=message) as caught:
        config(**over)
    assert isinstance(caught.value, ValueError)  # callers catching ValueError keep working


def test_settings_that_are_not_used_are_not_checked():
    # another validation source makes the held-out drawers irrelevant, as before
    assert config(val_split="vinyals-val", holdout_drawers=0).holdout_drawers == 0
    assert config(val_alphabets=5, holdout_drawers=0).val_alphabets == 5


def test_defaults_are_the_dataclass_fields():
    defaults = train_defaults()
    made = config()
    assert "data_root" not in defaults and "out" not in defaults  # required, no default
    for name, value in defaults.items():
        assert getattr(made, name) == value, name
    assert (
        defaults["backbone_kwargs"] == {}
        and defaults["backbone_kwargs"] is not made.backbone_kwargs
    )
