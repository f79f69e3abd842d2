"""Episode sampling on real Omniglot labels: shapes, reproducibility, within-alphabet tasks,
errors that name the fix, and DataLoader workers."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from episodes.sampler import EpisodeDataset, EpisodeSampler
from fewshot.data.omniglot import Omniglot
from fewshot.errors import InputError

REPO = Path(__file__).resolve().parents[2]
ALPHABETS = ["Greek", "Latin", "Braille", "Futurama"]  # 24, 26, 26, 26 characters


@pytest.fixture(scope="module")
def omni(omniglot_root, cache_dir):
    return Omniglot(omniglot_root, "background", alphabets=ALPHABETS, cache_dir=cache_dir)


def digest(sampler: EpisodeSampler) -> str:
    h = hashlib.sha256()
    for ep in sampler:
        for a in (ep.classes, ep.support, ep.query):
            h.update(a.tobytes())
    return h.hexdigest()


def test_episode_shapes_and_labels(omni):
    s = EpisodeSampler(omni.labels, 5, 2, 3, n_episodes=20, seed=1)
    for ep in s:
        assert ep.support.shape == (5, 2) and ep.query.shape == (5, 3)
        assert len(set(ep.classes.tolist())) == 5
        for row, c in enumerate(ep.classes):
            assert (omni.labels[ep.support[row]] == c).all()
            assert (omni.labels[ep.query[row]] == c).all()
        assert not set(ep.support.ravel()) & set(ep.query.ravel())
    assert ep.support_labels().tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    assert ep.query_labels().shape == (15,)


def test_same_seed_same_episodes_in_another_process(omni):
    s = EpisodeSampler(omni.labels, 5, 1, 5, n_episodes=30, seed=7)
    code = textwrap.dedent(
        f"""
        import hashlib
        import numpy as np
        from episodes.sampler import EpisodeSampler
        labels = np.repeat(np.arange({len(omni.classes)}), 20)
        s = EpisodeSampler(labels, 5, 1, 5, n_episodes=30, seed=7)
        h = hashlib.sha256()
        for ep in s:
            for a in (ep.classes, ep.support, ep.query):
                h.update(a.tobytes())
        print(h.hexdigest())
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == digest(s)
    assert digest(s) != digest(EpisodeSampler(omni.labels, 5, 1, 5, n_episodes=30, seed=8))
    assert np.array_equal(s[17].support, list(s)[17].support)  # random access == iteration


def test_within_alphabet_tasks_stay_in_one_alphabet(omni):
    groups = omni.class_groups
    s = EpisodeSampler(
        omni.labels, 25, 1, 1, n_episodes=60, seed=0, groups=groups, within_group=True
    )
    seen = set()
    for ep in s:
        alphabets = {groups[c] for c in ep.classes}
        assert len(alphabets) == 1
        seen |= alphabets
    assert seen == {"Latin", "Braille", "Futurama"}  # Greek has only 24 characters
    across = EpisodeSampler(omni.labels, 25, 1, 1, n_episodes=20, seed=0)
    assert any(len({groups[c] for c in ep.classes}) > 1 for ep in across)


def test_fraction_of_within_alphabet_episodes(omni):
    groups = omni.class_groups
    s = EpisodeSampler(
        omni.labels, 20, 1, 1, n_episodes=200, seed=0, groups=groups, within_group=0.5
    )
    within = sum(len({groups[c] for c in ep.classes}) == 1 for ep in s)
    assert 70 < within < 130  # about half; an across-alphabet 20-way task is never pure
    assert s.protocol()["within_group"] == 0.5


def test_validation_errors_say_what_is_wrong(omni):
    with pytest.raises(ValueError, match=r"\(15\+6\) = 21 examples are needed.*'0' has 20"):
        EpisodeSampler(omni.labels, 5, 15, 6)
    with pytest.raises(InputError, match=r"n_way=200 but the data has only 102 classes"):
        EpisodeSampler(omni.labels, 200, 1, 1)
    with pytest.raises(InputError, match="`k_shot` must be an int >= 1"):
        EpisodeSampler(omni.labels, 5, 0, 1)
    with pytest.raises(InputError, match="largest group has 26 classes"):
        EpisodeSampler(omni.labels, 30, 1, 1, groups=omni.class_groups, within_group=True)
    with pytest.raises(InputError, match="needs `groups`"):
        EpisodeSampler(omni.labels, 5, 1, 1, within_group=True)
    with pytest.raises(InputError, match=r"map the labels to 0\.\.C-1"):
        EpisodeSampler(omni.labels - 1, 5, 1, 1)


def test_short_class_is_named(omni):
    labels = omni.labels[omni.labels != 3]
    labels = np.concatenate([labels, [3, 3]])
    with pytest.raises(ValueError, match=r"class 'Braille/character04' has 2"):
        EpisodeSampler(labels, 5, 1, 2, class_names=omni.class_names)


def test_episode_dataset_fetches_images(omni):
    s = EpisodeSampler(omni.labels, 5, 2, 3, n_episodes=4, seed=0)
    support, s_lab, query, q_lab = EpisodeDataset(s, omni.images)[0]
    assert tuple(support.shape) == (10, 28, 28) and tuple(query.shape) == (15, 28, 28)
    assert s_lab.tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4] and q_lab.shape[0] == 15


FORK_SCRIPT = """
import faiss  # imported before torch: the order in which forked workers used to hang
import numpy as np
import torch
from torch.utils.data import DataLoader

from episodes.sampler import EpisodeDataset, EpisodeSampler
from fewshot import worker_init_fn

rng = np.random.default_rng(0)
base = rng.standard_normal((20000, 64)).astype("float32")
index = faiss.IndexFlatL2(64)
index.add(base)
faiss.omp_set_num_threads(2)
index.search(base[:2000], 5)  # a multithreaded search in the parent before forking

def fetch(indices):
    _, ids = index.search(base[np.asarray(indices) % 20000], 3)
    return ids

labels = np.repeat(np.arange(50), 10)
ds = EpisodeDataset(EpisodeSampler(labels, 5, 2, 3, n_episodes=8, seed=0), fetch)
loader = DataLoader(ds, batch_size=None, num_workers=2, worker_init_fn=worker_init_fn,
                    multiprocessing_context="fork")
n = sum(1 for _ in loader)
print("episodes", n)
"""


def test_forked_workers_search_faiss_without_hanging():
    pytest.importorskip("faiss")
    out = subprocess.run(
        [sys.executable, "-c", FORK_SCRIPT],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "episodes 8"
