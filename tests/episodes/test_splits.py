"""Where a run's training and validation episodes come from: held-out drawers or held-out
alphabets, never overlapping, and samplers that draw only the examples their side may use."""

from __future__ import annotations

import numpy as np
import pytest

from episodes.config import TrainConfig
from episodes.splits import episode_sources, validation_split
from fewshot.data.omniglot import Omniglot
from fewshot.errors import InputError

ALPHABETS = ["Greek", "Latin", "Braille", "Futurama", "Korean"]


def small_config(omniglot_root, cache_dir, **over) -> TrainConfig:
    base = dict(
        data_root=str(omniglot_root), out="unused", cache_dir=str(cache_dir),
        alphabets=ALPHABETS, n_way=10, q_query=2, episodes=30, val_way=5, val_query=3,
        val_episodes=20, within_alphabet=0.5,
    )  # fmt: skip
    return TrainConfig(**base | over)


@pytest.fixture(scope="module")
def data(omniglot_root, cache_dir):
    return Omniglot(omniglot_root, "background", image_size=28, rotations=(0, 90, 180, 270),
                    alphabets=ALPHABETS, cache_dir=cache_dir)  # fmt: skip


def test_held_out_drawers_validate_on_new_drawings(omniglot_root, cache_dir, data):
    cfg = small_config(omniglot_root, cache_dir, holdout_drawers=4)
    val_set, train_keep, val_keep = validation_split(cfg, data)
    assert val_set is data and (train_keep == ~val_keep).all()
    assert set(data.drawers[train_keep]) == set(range(1, 17))
    assert set(data.drawers[val_keep]) == {17, 18, 19, 20}


def test_val_alphabets_hold_out_whole_alphabets(omniglot_root, cache_dir, data):
    """Validation on alphabets training never sees, unrotated; training keeps the rest."""
    cfg = small_config(omniglot_root, cache_dir, val_alphabets=2)
    val_set, train_keep, val_keep = validation_split(cfg, data)
    assert val_set is data and not (train_keep & val_keep).any()
    alphabet = np.array(data.class_groups)[data.labels]
    assert set(alphabet[val_keep]) == {"Korean", "Latin"}  # the last two, alphabetically
    assert set(alphabet[train_keep]) == {"Braille", "Futurama", "Greek"}
    assert (data.rotation[val_keep] == 0).all() and set(data.rotation[train_keep]) == {0, 1, 2, 3}
    assert val_keep.sum() == (np.isin(alphabet, ["Korean", "Latin"]) & (data.rotation == 0)).sum()
    with pytest.raises(InputError, match=r"val_alphabets \(--val-alphabets\) must be in 1..4"):
        validation_split(small_config(omniglot_root, cache_dir, val_alphabets=5), data)


def test_samplers_draw_only_their_own_examples(omniglot_root, cache_dir, data):
    cfg = small_config(omniglot_root, cache_dir, val_alphabets=2)
    training, validation = episode_sources(cfg)
    assert len(training.sampler) == 30 and len(validation.sampler) == 20
    alphabet = np.array(training.dataset.class_groups)[training.dataset.labels]
    for source, allowed in ((training, {"Braille", "Futurama", "Greek"}), (validation, {"Korean", "Latin"})):  # fmt: skip
        used = np.concatenate(
            [source.positions[np.r_[ep.support.ravel(), ep.query.ravel()]] for ep in source.sampler]
        )
        assert set(alphabet[used]) <= allowed
    assert (training.dataset.rotation[used] == 0).all()  # the validation side, unrotated
    # a sampler's classes are those it may use, not every class of the dataset (with empties)
    assert len(validation.sampler.class_names) == 26 + 40  # Latin and Korean characters


def test_class_split_sources_train_on_base_and_validate_on_val_only(shared_data):
    from episodes.splits import EpisodeShape, class_split_sources
    from fewshot.data import ClassSplits, load_dataset

    clinc = load_dataset("clinc150:train", root=shared_data)
    splits = ClassSplits.from_fractions(clinc.class_names, (0.6, 0.2, 0.2), seed=0)
    train, val = class_split_sources(
        clinc, splits, EpisodeShape(10, 1, 5, 20, 0), EpisodeShape(5, 1, 5, 10, 1, within=1.0)
    )
    names = np.asarray(clinc.class_names)
    for source, allowed in ((train, splits.base), (val, splits.val)):
        for ep in source.sampler:
            used = source.positions[np.r_[ep.support.ravel(), ep.query.ravel()]]
            assert set(names[clinc.labels[used]]) <= set(allowed)
        assert set(names[clinc.labels[source.positions]]) == set(allowed)
    assert val.sampler.within_group == 1.0  # CLINC150 domains group its classes
    with pytest.raises(InputError, match="no val classes"):
        class_split_sources(clinc, ClassSplits(splits.base, (), splits.novel),
                            EpisodeShape(5, 1, 5, 2, 0), EpisodeShape(5, 1, 5, 2, 0))  # fmt: skip
