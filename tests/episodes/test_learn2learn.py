"""learn2learn interop on real Omniglot: the scripted install, and episodes ⇄ TaskDataset with
the same images, labels and tasks in both directions.

CI installs learn2learn (README's first command runs scripts/install_learn2learn.py), so these
run there; they skip only where learn2learn is not installed, and say so.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

try:
    import learn2learn as l2l
except ImportError:
    pytest.skip(
        "learn2learn is not installed here: run `python scripts/install_learn2learn.py` "
        "(CI does, so these tests run there)",
        allow_module_level=True,
    )

from episodes.learn2learn import (
    episode_order,
    episode_task_labels,
    episodes_to_taskdataset,
    meta_dataset,
    split_task,
    taskdataset_to_episodes,
)
from episodes.manifest import load_manifest, save_manifest
from episodes.sampler import EpisodeDataset, EpisodeSampler
from fewshot.data.omniglot import Omniglot
from fewshot.errors import InputError

REPO = Path(__file__).resolve().parents[2]
ALPHABETS = ["Greek", "Latin", "Braille", "Futurama"]


@pytest.fixture(scope="module")
def omni(omniglot_root, cache_dir):
    return Omniglot(
        omniglot_root, "background", alphabets=ALPHABETS, cache_dir=cache_dir,
        rotations=(0, 90),
    )  # fmt: skip


@pytest.fixture(scope="module")
def meta(omni):
    return meta_dataset(omni.images, omni.labels)


def test_install_script_result_imports_and_works():
    """The scripted install left a compiled, working learn2learn, and a rerun is a no-op."""
    assert l2l.__version__ == "0.2.0"
    for mod in (l2l.data.task_dataset, l2l.data.meta_dataset, l2l.data.transforms):
        assert Path(mod.__file__).suffix == ".so", f"{mod.__name__} is not the compiled extension"
    model = l2l.vision.models.CNN4(5, hidden_size=8, channels=1, embedding_size=8)
    maml = l2l.algorithms.MAML(model, lr=0.1)
    learner = maml.clone()
    x, y = torch.randn(10, 1, 28, 28), torch.arange(5).repeat(2)
    learner.adapt(torch.nn.functional.cross_entropy(learner(x), y))
    torch.nn.functional.cross_entropy(learner(x), y).backward()
    assert all(p.grad is not None for p in maml.parameters())
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "install_learn2learn.py")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "already imports; nothing to do" in done.stdout


def test_manifest_gives_the_same_tasks_in_learn2learn(omni, meta, tmp_path):
    sampler = EpisodeSampler(omni.labels, 5, 2, 3, n_episodes=12, seed=3)
    save_manifest(sampler, tmp_path / "m.json", omni.class_names)
    episodes, _ = load_manifest(tmp_path / "m.json", omni.class_names)
    taskset = episodes_to_taskdataset(episodes, meta)
    ours = EpisodeDataset(episodes, omni.images)
    assert len(taskset) == len(episodes)
    for i, ep in enumerate(episodes):
        x, y = taskset[i]
        assert torch.equal(x, torch.from_numpy(omni.images(episode_order(ep))))
        assert y.tolist() == episode_task_labels(ep).tolist()
        for a, b in zip(split_task(x, y, 5, 2), ours[i]):
            assert torch.equal(a, b)
        assert (omni.labels[episode_order(ep)] == ep.classes[y.numpy()]).all()
    back = taskdataset_to_episodes(taskset, k_shot=2)
    for a, b in zip(back, episodes):
        for f in ("classes", "support", "query"):
            assert np.array_equal(getattr(a, f), getattr(b, f))


def test_learn2learn_tasks_become_our_episodes(omni, meta, tmp_path):
    import random

    random.seed(0)
    transforms = [
        l2l.data.transforms.NWays(meta, 5),
        l2l.data.transforms.KShots(meta, 1 + 4),
        l2l.data.transforms.LoadData(meta),
        l2l.data.transforms.RemapLabels(meta),
    ]
    taskset = l2l.data.Taskset(meta, transforms, num_tasks=8)
    episodes = taskdataset_to_episodes(taskset, k_shot=1)
    save_manifest(episodes, tmp_path / "l2l.json", omni.class_names)
    episodes, _ = load_manifest(tmp_path / "l2l.json", omni.class_names)
    ours = EpisodeDataset(episodes, omni.images)
    for i, ep in enumerate(episodes):
        assert ep.support.shape == (5, 1) and ep.query.shape == (5, 4)
        for row, c in enumerate(ep.classes):
            assert (omni.labels[ep.support[row]] == c).all()
            assert (omni.labels[ep.query[row]] == c).all()
        x, y = taskset[i]  # the same cached task learn2learn serves
        assert torch.equal(x, torch.from_numpy(omni.images(episode_order(ep))))
        mine = torch.as_tensor(episode_task_labels(ep))
        assert len(set(zip(y.tolist(), mine.tolist()))) == 5  # one l2l label per class
        s, s_lab, q, q_lab = ours[i]
        assert torch.equal(torch.cat([s.view(5, 1, -1), q.view(5, 4, -1)], 1).flatten(0, 1),
                           x.flatten(1))  # fmt: skip
        assert (
            s_lab.tolist() == list(range(5)) and q_lab.tolist() == np.repeat(range(5), 4).tolist()
        )


def test_episodes_to_taskdataset_rejects_another_dataset(omni, meta):
    sampler = EpisodeSampler(omni.labels, 3, 1, 1, n_episodes=1, seed=0)
    ep = sampler[0]
    wrong = type(ep)(ep.classes + 1, ep.support, ep.query)
    with pytest.raises(InputError, match="wrong dataset"):
        episodes_to_taskdataset([wrong], meta)
    with pytest.raises(InputError, match="is empty"):
        episodes_to_taskdataset([], meta)


def test_split_task_names_the_mismatch():
    x, y = torch.zeros(10, 1, 4, 4), torch.arange(5).repeat_interleave(2)
    support, s_lab, query, q_lab = split_task(x, y, 5, 1)
    assert support.shape[0] == query.shape[0] == 5 and s_lab.tolist() == q_lab.tolist()
    with pytest.raises(InputError, match="not 5 classes"):
        split_task(x, y, 5, 2)  # no query left per class
