"""Episode manifests: episodes read back are the episodes written, with their protocol, and a
manifest for another dataset, of another version or of another format is refused."""

from __future__ import annotations

import json

import numpy as np
import pytest

from episodes.manifest import load_manifest, save_manifest
from episodes.sampler import EpisodeSampler
from fewshot.data.omniglot import Omniglot
from fewshot.errors import InputError, StoreFormatError


@pytest.fixture(scope="module")
def omni(omniglot_root, cache_dir):
    return Omniglot(omniglot_root, "background", alphabets=["Greek", "Latin"], cache_dir=cache_dir)


def test_round_trip_keeps_episodes_and_protocol(omni, tmp_path):
    s = EpisodeSampler(omni.labels, 5, 1, 15, n_episodes=25, seed=3)
    path = tmp_path / "runs" / "m.json"
    save_manifest(s, path, omni.class_names, dataset=omni.describe())
    assert [p.name for p in path.parent.iterdir()] == ["m.json"]  # no temporary file left
    episodes, header = load_manifest(path, omni.class_names)
    assert header["protocol"] == s.protocol() and header["version"] == 1
    assert header["dataset"]["split"] == "background"
    for a, b in zip(episodes, s, strict=True):
        assert np.array_equal(a.support, b.support) and np.array_equal(a.query, b.query)
        assert np.array_equal(a.classes, b.classes)
    # a plain list of episodes keeps the protocol it is given
    save_manifest(episodes[:2], path, omni.class_names, protocol={"source": "test"})
    again, header = load_manifest(path)
    assert len(again) == 2 and header["protocol"] == {"source": "test"}


def test_manifest_of_another_dataset_is_refused(omni, tmp_path):
    path = tmp_path / "m.json"
    save_manifest(EpisodeSampler(omni.labels, 5, 1, 1, n_episodes=3), path, omni.class_names)
    with pytest.raises(InputError, match="another dataset or split"):
        load_manifest(path, list(reversed(omni.class_names)))


def test_other_versions_and_formats_are_refused(omni, tmp_path):
    path = tmp_path / "m.json"
    save_manifest(EpisodeSampler(omni.labels, 5, 1, 1, n_episodes=3), path, omni.class_names)
    path.write_text(path.read_text().replace('"version":1', '"version":99'))
    with pytest.raises(StoreFormatError, match="version 99"):
        load_manifest(path)
    path.write_text(json.dumps({"format": "something.else", "episodes": []}))
    with pytest.raises(StoreFormatError, match="not a fewshot episode manifest"):
        load_manifest(path)
