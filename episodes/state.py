"""Training-state checkpoints: what ``episodes.train`` needs to resume a run exactly, no pickle.

A state folder holds two files, rewritten after every validation:

* ``train_state.safetensors``, tensors only: ``model.<name>`` (the network), ``head.<name>``
  (the prototypical head) and ``optim.<parameter id>.<name>`` (Adam's per-parameter state);
  its metadata records the episode it was saved at.
* ``train_state.json``, everything else: ``version``, ``episode`` (episodes done), Adam's
  ``param_groups``, the ``scheduler``'s state, and the run's ``Progress`` (best validation
  accuracy, validation history, training seconds, images seen).

Each file is written beside its final name, flushed to disk and renamed over it, so a reader
sees a whole old or a whole new file; the JSON is renamed last. A save killed between the two
renames leaves tensors and JSON of different episodes, which ``load_state`` refuses.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save

from fewshot.durable import fsync_path, read_json, write_bytes_durably, write_json_atomic
from fewshot.errors import StoreFormatError

STATE_VERSION = 1
TENSORS = "train_state.safetensors"
META = "train_state.json"


@dataclass
class Progress:
    """Where a run stands; carried across validations and restored on resume.

    ``history`` holds one record per validation: ``{"episode", "val_acc", "lr", "elapsed_s"}``.
    ``train_seconds`` and ``images_seen`` count only time spent in training steps, summed over
    every segment of a resumed run.
    """

    episode: int = 0
    best_val: float = -1.0
    history: list[dict[str, Any]] = field(default_factory=list)
    train_seconds: float = 0.0
    images_seen: int = 0


def has_state(folder: Path) -> bool:
    """Whether ``folder`` holds a saved training state."""
    return (folder / META).is_file()


def save_state(
    folder: Path,
    model: torch.nn.Module,
    head: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    progress: Progress,
    model_keys: Collection[str] | None = None,
) -> None:
    """Write the training state after ``progress.episode`` episodes to ``folder``;
    ``model_keys`` limits the network's tensors to those (the trained blocks of a large
    pre-trained network: the frozen ones are rebuilt from its base on resume)."""
    folder.mkdir(parents=True, exist_ok=True)
    state = model.state_dict()
    names = state if model_keys is None else [k for k in state if k in set(model_keys)]
    tensors = {f"model.{k}": state[k].detach().cpu().contiguous() for k in names}
    tensors |= {f"head.{k}": v.detach().cpu().contiguous() for k, v in head.state_dict().items()}
    opt = optimizer.state_dict()
    for pid, st in opt["state"].items():
        for name, value in st.items():
            tensors[f"optim.{pid}.{name}"] = torch.as_tensor(value).detach().cpu().contiguous()
    part = folder / f"{TENSORS}.part"
    write_bytes_durably(part, save(tensors, metadata={"episode": str(progress.episode)}))
    os.replace(part, folder / TENSORS)
    fsync_path(folder)
    meta = {
        "version": STATE_VERSION,
        "param_groups": opt["param_groups"],
        "scheduler": scheduler.state_dict(),
        **asdict(progress),
    }
    write_json_atomic(folder / META, meta)


def load_state(
    folder: Path,
    model: torch.nn.Module,
    head: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    model_keys: Collection[str] | None = None,
) -> Progress:
    """Restore ``model``, ``head``, ``optimizer`` and ``scheduler`` from ``folder`` in place
    (of the network only ``model_keys`` when given, as ``save_state`` wrote them); returns the
    run's progress."""
    meta = read_json(folder / META, "training state")
    if meta.get("version") != STATE_VERSION:
        raise StoreFormatError(
            f"{folder}: training state version {meta.get('version')!r} is not supported (this "
            f"code reads version {STATE_VERSION}); resume with the code that wrote it, or start "
            "a new run in another --out folder"
        )
    with safe_open(str(folder / TENSORS), framework="pt") as f:
        saved_at = (f.metadata() or {}).get("episode")
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (not a dict)
    if saved_at is not None and int(saved_at) != meta["episode"]:
        raise StoreFormatError(
            f"{folder}: the tensors are from episode {saved_at} but {META} from episode "
            f"{meta['episode']} (a save was interrupted); start a new run in another --out folder"
        )
    mine = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
    if model_keys is not None and set(mine) != set(model_keys):
        raise StoreFormatError(
            f"{folder}: the saved network's trained tensors are not this run's; resume with the "
            "same --init and --train-blocks, or start a new run in another --out folder"
        )
    model.load_state_dict(mine, strict=model_keys is None)
    head.load_state_dict({k[5:]: v for k, v in tensors.items() if k.startswith("head.")})
    state: dict[int, dict[str, torch.Tensor]] = {}
    for k, v in tensors.items():
        if k.startswith("optim."):
            _, pid, name = k.split(".", 2)
            state.setdefault(int(pid), {})[name] = v
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    scheduler.load_state_dict(meta["scheduler"])
    return Progress(
        episode=meta["episode"],
        best_val=meta["best_val"],
        history=meta["history"],
        train_seconds=float(meta.get("train_seconds", 0.0)),  # absent in the earliest states
        images_seen=int(meta.get("images_seen", 0)),
    )
