"""Every episodes test leaves torch's thread count as it found it: ``train`` sets it for the
whole process from ``TrainConfig.threads``, and the MAML test runs on one thread."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def restore_torch_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)
