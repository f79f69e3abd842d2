"""Training-state checkpoints: a save restores model, head, Adam and the lr schedule exactly,
the files are safetensors + JSON (nothing to unpickle), and foreign or torn states are refused."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors import safe_open

from episodes.state import Progress, has_state, load_state, save_state
from fewshot.errors import StoreFormatError
from fewshot.heads import PrototypicalHead


def parts(seed: int):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(6, 4), torch.nn.BatchNorm1d(4))
    head = PrototypicalHead("cosine")  # a learnable scale: the head has state of its own
    optimizer = torch.optim.Adam([*model.parameters(), *head.parameters()], lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    return model, head, optimizer, scheduler


def steps(model, head, optimizer, scheduler, start: int, stop: int) -> None:
    for i in range(start, stop):
        x = torch.randn(8, 6, generator=torch.Generator().manual_seed(i))
        z = model(x)
        labels = torch.arange(2).repeat(2)
        loss, _ = head.episode_loss(z[:4], labels, z[4:], labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()


def test_resumed_training_continues_exactly(tmp_path):
    straight = parts(0)
    steps(*straight, 0, 5)
    first = parts(0)
    steps(*first, 0, 3)
    progress = Progress(episode=3, best_val=0.5, history=[{"episode": 3, "val_acc": 0.5}],
                        train_seconds=1.5, images_seen=24)  # fmt: skip
    assert not has_state(tmp_path)
    save_state(tmp_path, *first, progress)
    assert has_state(tmp_path)
    resumed = parts(1)  # other initial weights: everything must come from the files
    assert load_state(tmp_path, *resumed) == progress
    assert resumed[3].get_last_lr() == first[3].get_last_lr()
    steps(*resumed, 3, 5)
    for a, b in zip(straight[:2], resumed[:2]):
        for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
            torch.testing.assert_close(x, y, msg=name)


def test_files_are_safetensors_and_json_only(tmp_path):
    save_state(tmp_path, *parts(0), Progress(episode=7))
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "train_state.json",
        "train_state.safetensors",
    ]  # no pickle, and no temporary file left behind
    meta = json.loads((tmp_path / "train_state.json").read_text())
    assert meta["version"] == 1 and meta["episode"] == 7
    with safe_open(str(tmp_path / "train_state.safetensors"), framework="pt") as f:
        assert f.metadata()["episode"] == "7"
        prefixes = {key.split(".")[0] for key in f.keys()}  # noqa: SIM118 (not a dict)
    assert prefixes == {"model", "head"}  # Adam has no state before its first step


def test_foreign_version_is_refused(tmp_path):
    save_state(tmp_path, *parts(0), Progress())
    meta_path = tmp_path / "train_state.json"
    meta_path.write_text(meta_path.read_text().replace('"version": 1', '"version": 9'))
    with pytest.raises(StoreFormatError, match="version 9 is not supported"):
        load_state(tmp_path, *parts(0))


def test_torn_save_is_refused(tmp_path):
    """Tensors from one save and JSON from another (a save killed between its two renames)."""
    model, head, optimizer, scheduler = parts(0)
    save_state(tmp_path / "a", model, head, optimizer, scheduler, Progress(episode=4))
    save_state(tmp_path / "b", model, head, optimizer, scheduler, Progress(episode=8))
    (tmp_path / "b" / "train_state.json").replace(tmp_path / "a" / "train_state.json")
    with pytest.raises(StoreFormatError, match="a save was interrupted"):
        load_state(tmp_path / "a", *parts(0))
