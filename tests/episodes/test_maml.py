"""learn2learn's MAML on our episodes: it meta-trains on sampler tasks and scores episodes."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip(
    "learn2learn",
    reason="learn2learn is not installed here: run `python scripts/install_learn2learn.py` "
    "(CI does, so this test runs there)",
)

from episodes.images import DeviceImages
from episodes.maml import MAMLConfig, evaluate_maml, train_maml
from episodes.sampler import EpisodeSampler
from fewshot.data.omniglot import Omniglot
from fewshot.encoders.omniglot import ink


@pytest.fixture
def one_thread():
    """MAML's many tiny ops run faster on one torch thread; the setting is put back after."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_maml_trains_and_scores_on_episodes(omniglot_root, cache_dir, one_thread):
    omni = Omniglot(omniglot_root, "background", alphabets=["Greek", "Latin"], cache_dir=cache_dir,
                    rotations=(0, 90))  # fmt: skip
    images = DeviceImages(omni, torch.device("cpu"))
    config = MAMLConfig(n_way=3, k_shot=1, q_query=2, meta_batch=2, hidden=8, max_iterations=3,
                        minutes=1.0)  # fmt: skip
    maml, summary = train_maml(config, images, omni.labels, progress=False)
    assert summary["iterations"] == 3 and summary["tasks"] == 6
    assert summary["config"]["n_way"] == 3
    episodes = list(EpisodeSampler(omni.labels, 3, 1, 4, n_episodes=4, seed=1))
    accs = evaluate_maml(maml, lambda idx: ink(torch.from_numpy(omni.images(idx))), episodes, 2)
    assert accs.shape == (4,) and ((accs >= 0) & (accs <= 1)).all()
