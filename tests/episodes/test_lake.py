"""Lake et al.'s drawer-pair runs on the real Omniglot evaluation alphabets: one drawer's
support, another's queries, one alphabet per run, seeded, balanced over alphabets, and scored
through the same manifests and reports as random-drawer episodes."""

from __future__ import annotations

import numpy as np
import pytest

from episodes.evaluate import pixel_encoder
from episodes.lake import LakeRuns
from episodes.manifest import load_manifest
from episodes.protocols import draw_episodes, score_setting
from fewshot.data import FewShotDataset, Omniglot
from fewshot.errors import InputError


@pytest.fixture(scope="module")
def evaluation(omniglot_root, cache_dir):
    return Omniglot(omniglot_root, "evaluation", image_size=28, cache_dir=cache_dir)


def test_runs_pair_two_drawers_within_one_alphabet(evaluation):
    runs = LakeRuns.from_dataset(evaluation, n_runs=40, seed=0)
    assert len(runs.groups) == 20 and len(runs) == 40
    for i, run in enumerate(runs):
        assert run.support.shape == run.query.shape == (20, 1)
        assert len(set(run.classes.tolist())) == 20
        alphabets = {evaluation.class_groups[c] for c in run.classes}
        assert alphabets == {runs.groups[i % 20]}  # alphabet i mod 20: two runs each
        support_drawers = set(evaluation.sources[run.support.ravel()].tolist())
        query_drawers = set(evaluation.sources[run.query.ravel()].tolist())
        assert len(support_drawers) == len(query_drawers) == 1
        assert support_drawers != query_drawers
        assert (evaluation.labels[run.support.ravel()] == run.classes).all()
        assert (evaluation.labels[run.query.ravel()] == run.classes).all()
    again = LakeRuns.from_dataset(evaluation, n_runs=40, seed=0)
    assert np.array_equal(again[7].query, runs[7].query)
    assert not np.array_equal(LakeRuns.from_dataset(evaluation, 40, seed=1)[7].query, runs[7].query)


def test_lake_protocol_is_scored_and_replayed_from_a_manifest(evaluation, tmp_path):
    pixels = pixel_encoder(28)
    kwargs = {"protocol": "lake", "manifest": tmp_path / "lake.json"}
    first = score_setting(pixels, evaluation, "evaluation", 28, 20, 1, 1, 30, 0, **kwargs)
    p = first["protocol"]
    assert (p["protocol"], p["n_episodes"], p["q_query"], p["drawer_pairs"]) == (
        "lake",
        30,
        1,
        True,
    )
    assert 0.05 < first["accuracy"]["mean"] < 0.6  # pixels: above 20-way chance, far from people
    episodes, header = load_manifest(tmp_path / "lake.json", evaluation.class_names)
    assert header["protocol"]["protocol"] == "lake" and len(episodes) == 30
    replay = score_setting(pixels, evaluation, "evaluation", 28, 5, 1, 15, 999, 9, **kwargs)
    assert replay["per_episode"] == first["per_episode"]


def test_lake_protocol_refuses_what_it_cannot_draw(evaluation):
    with pytest.raises(InputError, match="one-shot"):
        draw_episodes(evaluation, 20, 5, protocol="lake")
    text = FewShotDataset(["a", "b"], [0, 1], ["x", "y"], kind="text")
    with pytest.raises(InputError, match="--protocol random"):
        draw_episodes(text, 2, 1, protocol="lake")
    with pytest.raises(InputError, match="no alphabet has 60"):
        LakeRuns.from_dataset(evaluation, n_way=60)
    with pytest.raises(InputError, match="protocol must be one of"):
        draw_episodes(evaluation, 5, 1, protocol="koch")
