"""Prototypical-network training on Omniglot episodes, from the uint8 cache, on CPU or GPU.

The hot loop never touches PIL: the whole split sits on the device as a uint8 tensor, an
episode is an index gather plus ``torch.rot90`` for rotated classes, and augmentation is one
batched ``grid_sample``. Validation episodes are fixed and seeded; the best encoder is saved
as a ``fewshot.load_encoder`` checkpoint, and the full training state (model, head, Adam,
episode counter) as safetensors + JSON, so a run resumes exactly.
"""

from __future__ import annotations

import copy
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm

from episodes.augment import random_affine
from episodes.sampler import EpisodeSampler
from episodes.transfer import add_projection, freeze_stages, initial_backbone, set_training
from fewshot.data.omniglot import Omniglot
from fewshot.encoders import save_checkpoint, wrap_module
from fewshot.encoders.backbones import build_backbone
from fewshot.encoders.omniglot import ink, omniglot_preprocess
from fewshot.heads import PrototypicalHead

STATE_VERSION = 1


@dataclass
class TrainConfig:
    """Everything that defines a training run; stored beside its checkpoints.

    Transfer: ``init`` starts from a trained encoder (shipped name or checkpoint folder) instead of
    ``backbone``; ``freeze_stages`` freezes its first blocks; ``projection`` freezes all of it and
    trains only a linear projection to that many dimensions (see ``episodes.transfer``).
    ``holdout_drawers``: when ``val_split`` is None, the last drawers of every training class
    are held out for validation (new drawings of known characters; no evaluation alphabet is
    ever read). ``val_alphabets``: instead, hold out the last N alphabets of ``split`` (in
    alphabetical order, unrotated) and validate on their characters, which training never
    sees: the selection signal for new alphabets. ``within_alphabet``: the fraction of training
    episodes whose classes all come from one alphabet.
    """

    data_root: str
    out: str
    split: str = "background"
    val_split: str | None = None
    image_size: int = 28
    rotations: bool = True
    backbone: str = "conv4"
    backbone_kwargs: dict[str, Any] = field(default_factory=dict)
    metric: str = "sqeuclidean"
    n_way: int = 60
    k_shot: int = 1
    q_query: int = 5
    episodes: int = 10000
    lr: float = 1e-3
    lr_step: int = 2000
    lr_gamma: float = 0.5
    weight_decay: float = 0.0
    within_alphabet: float = 0.0
    augment: bool = True
    holdout_drawers: int = 4
    val_alphabets: int = 0
    val_way: int = 20
    val_shot: int = 1
    val_query: int = 3
    val_episodes: int = 200
    val_every: int = 500
    val_within_alphabet: bool = True
    seed: int = 0
    device: str = "auto"
    amp: bool = True
    channels_last: bool = True
    threads: int | None = None
    max_minutes: float | None = None
    stop_at: int | None = None
    cache_dir: str | None = None
    alphabets: list[str] | None = None
    download: bool = False
    init: str | None = None
    freeze_stages: int = 0
    projection: int | None = None


class DeviceImages:
    """A split's uint8 images resident on a device; ``batch(indices)`` → float (B, 1, S, S)."""

    def __init__(self, dataset: Omniglot, device: torch.device):
        self.base = torch.from_numpy(dataset.base_images).to(device)
        self.image_index = dataset.image_index
        self.rotation = dataset.rotation  # stays on the host: no device sync per episode
        self.device = device

    def batch(self, indices: np.ndarray) -> torch.Tensor:
        idx = np.asarray(indices, dtype=np.int64)
        src = torch.from_numpy(self.image_index[idx]).to(self.device, non_blocking=True)
        images = self.base[src]
        rot = self.rotation[idx]
        for k in (1, 2, 3):
            sel = np.flatnonzero(rot == k)
            if sel.size:
                at = torch.from_numpy(sel).to(self.device, non_blocking=True)
                images[at] = torch.rot90(images[at], k, dims=(1, 2))
        return ink(images)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _subset_sampler(
    dataset: Omniglot, keep: np.ndarray, n_way: int, k_shot: int, q_query: int,
    n_episodes: int, seed: int, within: float | bool,
) -> tuple[EpisodeSampler, np.ndarray]:  # fmt: skip
    """A sampler over the examples ``keep`` (dataset indices); returns it and the index map.
    Classes with no kept example (a held-out alphabet) are left out, not reported as empty."""
    positions = np.flatnonzero(keep)
    present, labels = np.unique(dataset.labels[positions], return_inverse=True)
    names, groups = dataset.class_names, dataset.class_groups  # properties: build them once
    sampler = EpisodeSampler(
        labels, n_way, k_shot, q_query, n_episodes=n_episodes, seed=seed,
        class_names=[names[c] for c in present], groups=[groups[c] for c in present],
        within_group=within,
    )  # fmt: skip
    return sampler, positions


def validation_split(
    config: TrainConfig, train_set: Omniglot, data_kw: dict[str, Any]
) -> tuple[Omniglot, np.ndarray, np.ndarray]:
    """Where validation episodes come from: ``(val_set, train_keep, val_keep)``, boolean masks
    over ``train_set`` and ``val_set`` of the examples each side may use (``val_split``, held-out
    alphabets, or held-out drawers, in that order of precedence)."""
    if config.val_split:
        val_set = Omniglot(config.data_root, config.val_split, **data_kw)
        train_keep = np.ones(len(train_set), bool)
        val_keep = np.ones(len(val_set), bool)
    elif config.val_alphabets:
        if config.split.startswith("vinyals"):
            raise ValueError("train: `val_alphabets` holds out alphabets of background; the "
                             "Vinyals splits have their own `val_split`")  # fmt: skip
        names = sorted(set(train_set.class_groups))
        if not 0 < config.val_alphabets < len(names):
            raise ValueError(
                f"train: `val_alphabets` must be in 1..{len(names) - 1} (split {config.split!r} "
                f"has {len(names)} alphabets), got {config.val_alphabets}"
            )
        held = set(names[-config.val_alphabets :])
        held_out = np.array([g in held for g in train_set.class_groups])[train_set.labels]
        val_set = train_set
        train_keep = ~held_out
        val_keep = held_out & (train_set.rotation == 0)
    else:
        if not 0 < config.holdout_drawers < 20:
            raise ValueError("train: `holdout_drawers` must be in 1..19 when val_split is None")
        val_set = train_set
        train_keep = train_set.drawers <= 20 - config.holdout_drawers
        val_keep = ~train_keep
    return val_set, train_keep, val_keep


def build_model(
    config: TrainConfig,
) -> tuple[torch.nn.Module, str, dict[str, Any], list[torch.nn.Module]]:
    """The network to train: (module, architecture name, its kwargs, its frozen stages)."""
    if config.init:
        model, architecture, kwargs = initial_backbone(config.init, config.image_size)
    else:
        architecture, kwargs = config.backbone, dict(config.backbone_kwargs)
        if architecture == "conv4":
            kwargs = {"in_channels": 1, "hidden": 64, "image_size": config.image_size, **kwargs}
        else:
            kwargs = {"in_channels": 1, **kwargs}
        model = build_backbone(architecture, **kwargs)
    freeze = config.freeze_stages
    if config.projection:
        if freeze:
            raise ValueError("train: `projection` trains only the projection; drop `freeze_stages`")
        freeze = len(model.stages())
        model, architecture, kwargs = add_projection(model, architecture, kwargs, config.projection)
    return model, architecture, kwargs, freeze_stages(model, freeze)


def embed(model: torch.nn.Module, x: torch.Tensor, config: TrainConfig) -> torch.Tensor:
    """Embeddings (B, d) in float32; bf16 autocast on CUDA when ``config.amp``."""
    if config.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    if config.amp and x.is_cuda:
        with torch.autocast("cuda", dtype=torch.bfloat16):
            return model(x).float()
    return model(x)


def episode_batch(
    sampler: EpisodeSampler, i: int, positions: np.ndarray, images: DeviceImages,
    config: TrainConfig,
) -> tuple[torch.Tensor, int, torch.Tensor, torch.Tensor]:  # fmt: skip
    """Training episode ``i`` as tensors: ``(x (N·K + N·Q, 1, S, S) support then query,
    N·K, support_labels (N·K,), query_labels (N·Q,))``, augmented when ``config.augment``.

    ``positions`` maps the sampler's example numbers to dataset indices (a subset's rows).
    """
    ep = sampler[i]
    s_idx, q_idx = positions[ep.support.ravel()], positions[ep.query.ravel()]
    x = images.batch(np.concatenate([s_idx, q_idx]))
    if config.augment:
        gen = torch.Generator().manual_seed(config.seed * 1_000_003 + i)
        x = random_affine(x, gen)
    device = images.device
    s_lab = torch.as_tensor(ep.support_labels(), device=device)
    q_lab = torch.as_tensor(ep.query_labels(), device=device)
    return x, len(s_idx), s_lab, q_lab


def train_step(
    model: torch.nn.Module, head: PrototypicalHead, optimizer: torch.optim.Optimizer,
    x: torch.Tensor, ns: int, s_lab: torch.Tensor, q_lab: torch.Tensor, config: TrainConfig,
) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """One prototypical update on ``x`` (first ``ns`` rows support): ``(loss, accuracy)``."""
    z = embed(model, x, config)
    loss, acc = head.episode_loss(z[:ns], s_lab, z[ns:], q_lab)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss, acc


@torch.no_grad()
def validate(model, head, images: DeviceImages, sampler, positions, config, frozen=()) -> float:
    """Mean query accuracy over the fixed validation episodes."""
    was = model.training
    model.eval()
    accs = []
    for ep in sampler:
        s_idx, q_idx = positions[ep.support.ravel()], positions[ep.query.ravel()]
        z = embed(model, images.batch(np.concatenate([s_idx, q_idx])), config)
        ns = len(s_idx)
        s_lab = torch.as_tensor(ep.support_labels(), device=z.device)
        logits = head(z[ns:], head.prototypes(z[:ns], s_lab))
        accs.append((logits.argmax(1).cpu().numpy() == ep.query_labels()).mean())
    set_training(model, was, frozen)
    return float(np.mean(accs))


def save_state(folder: Path, model, head, optimizer, scheduler, episode: int, extra: dict) -> None:
    """Training state as safetensors (tensors) + JSON (everything else); no pickle."""
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tensors |= {f"head.{k}": v.detach().cpu().contiguous() for k, v in head.state_dict().items()}
    opt = optimizer.state_dict()
    for pid, st in opt["state"].items():
        for name, value in st.items():
            tensors[f"optim.{pid}.{name}"] = torch.as_tensor(value).detach().cpu().contiguous()
    save_file(tensors, str(folder / "train_state.safetensors.part"))
    os.replace(folder / "train_state.safetensors.part", folder / "train_state.safetensors")
    meta = {
        "version": STATE_VERSION,
        "episode": episode,
        "param_groups": opt["param_groups"],
        "scheduler": scheduler.state_dict(),
        **extra,
    }
    (folder / "train_state.json.part").write_text(json.dumps(meta, indent=1))
    os.replace(folder / "train_state.json.part", folder / "train_state.json")


def load_state(folder: Path, model, head, optimizer, scheduler) -> dict:
    meta = json.loads((folder / "train_state.json").read_text())
    if meta.get("version") != STATE_VERSION:
        raise ValueError(f"{folder}: training state version {meta.get('version')!r} unsupported")
    tensors = load_file(str(folder / "train_state.safetensors"))
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    head.load_state_dict({k[5:]: v for k, v in tensors.items() if k.startswith("head.")})
    state: dict[int, dict[str, torch.Tensor]] = {}
    for k, v in tensors.items():
        if k.startswith("optim."):
            _, pid, name = k.split(".", 2)
            state.setdefault(int(pid), {})[name] = v
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    scheduler.load_state_dict(meta["scheduler"])
    return meta


def save_encoder(
    model, architecture: str, kwargs: dict, config: TrainConfig, folder: Path, info: dict
) -> None:
    """The trained backbone as a ``fewshot.load_encoder`` checkpoint directory."""
    module = copy.deepcopy(model).cpu().float().eval()
    module = module.to(memory_format=torch.contiguous_format)
    encoder = wrap_module(
        module,
        preprocess=omniglot_preprocess(config.image_size),
        architecture=architecture,
        architecture_kwargs=kwargs,
        name=f"omniglot-{architecture}",
    )
    save_checkpoint(encoder, folder, extra={"training": asdict(config), **info})


def train(config: TrainConfig, resume: bool = False, progress: bool = True) -> dict[str, Any]:
    """Train a ProtoNet backbone; returns a summary (best validation accuracy, timings)."""
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    if config.threads:
        torch.set_num_threads(config.threads)
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    rotations = (0, 90, 180, 270) if config.rotations else (0,)
    data_kw = {
        "image_size": config.image_size,
        "cache_dir": config.cache_dir,
        "alphabets": config.alphabets,
        "download": config.download,
    }
    if config.split.startswith("vinyals"):
        train_set = Omniglot(config.data_root, config.split, **data_kw)
    else:
        train_set = Omniglot(config.data_root, config.split, rotations=rotations, **data_kw)
    val_set, train_keep, val_keep = validation_split(config, train_set, data_kw)
    sampler, train_pos = _subset_sampler(
        train_set, train_keep, config.n_way, config.k_shot, config.q_query, config.episodes,
        config.seed, config.within_alphabet,
    )  # fmt: skip
    val_sampler, val_pos = _subset_sampler(
        val_set, val_keep, config.val_way, config.val_shot, config.val_query,
        config.val_episodes, config.seed + 1, config.val_within_alphabet,
    )  # fmt: skip
    images = DeviceImages(train_set, device)
    val_images = images if val_set is train_set else DeviceImages(val_set, device)

    model, architecture, kwargs, frozen = build_model(config)
    model.to(device)
    if config.channels_last:
        model.to(memory_format=torch.channels_last)
    head = PrototypicalHead(config.metric).to(device)
    params = [p for p in model.parameters() if p.requires_grad] + list(head.parameters())
    if not params:
        raise ValueError(
            f"train: freeze_stages={config.freeze_stages} freezes the whole network and the "
            "head has no parameters: nothing to train (score it with `fewshot evaluate`)"
        )
    optimizer = torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, config.lr_step, config.lr_gamma)

    start, best, history = 0, -1.0, []
    earlier_seconds, earlier_images = 0.0, 0  # training time and images of resumed-from runs
    state_dir = out / "state"
    if resume and (state_dir / "train_state.json").is_file():
        meta = load_state(state_dir, model, head, optimizer, scheduler)
        start, best, history = meta["episode"], meta["best_val"], meta["history"]
        earlier_seconds = float(meta.get("train_seconds", 0.0))
        earlier_images = int(meta.get("images_seen", 0))
    (out / "config.json").write_text(json.dumps(asdict(config), indent=1))

    if start == 0 and not history:  # the untrained baseline, so every run shows its gain
        val_acc = validate(model, head, val_images, val_sampler, val_pos, config, frozen)
        history.append({"episode": 0, "val_acc": val_acc, "lr": config.lr, "elapsed_s": 0.0})
        tqdm.write(json.dumps(history[-1]))
    elapsed_before = history[-1]["elapsed_s"] if history else 0.0  # wall clock carries on
    t0 = time.perf_counter()
    train_time, images_seen = earlier_seconds, earlier_images
    set_training(model, True, frozen)
    bar = tqdm(range(start, config.episodes), desc="train", disable=not progress, mininterval=2)
    running = []
    stopped_early = False
    for i in bar:
        tick = time.perf_counter()
        x, ns, s_lab, q_lab = episode_batch(sampler, i, train_pos, images, config)
        loss, acc = train_step(model, head, optimizer, x, ns, s_lab, q_lab, config)
        scheduler.step()
        running.append((loss.detach(), acc.detach()))
        images_seen += x.shape[0]
        if len(running) == 50 or i + 1 == config.episodes:
            vals = torch.stack([torch.stack(r) for r in running]).mean(0).tolist()
            bar.set_postfix(loss=f"{vals[0]:.3f}", acc=f"{vals[1]:.3f}")
            running = []
        train_time += time.perf_counter() - tick
        done = i + 1
        out_of_time = (config.max_minutes is not None and (
            time.perf_counter() - t0 > 60 * config.max_minutes
        )) or (config.stop_at is not None and done >= config.stop_at)  # fmt: skip
        if done % config.val_every == 0 or done == config.episodes or out_of_time:
            val_acc = validate(model, head, val_images, val_sampler, val_pos, config, frozen)
            record = {"episode": done, "val_acc": val_acc, "lr": scheduler.get_last_lr()[0],
                      "elapsed_s": round(elapsed_before + time.perf_counter() - t0, 1)}  # fmt: skip
            history.append(record)
            tqdm.write(json.dumps(record))
            if val_acc > best:
                best = val_acc
                info = {"episode": done, "val_acc": val_acc}
                save_encoder(model, architecture, kwargs, config, out / "best", info)
            save_state(state_dir, model, head, optimizer, scheduler, done,
                       {"best_val": best, "history": history, "train_seconds": train_time,
                        "images_seen": images_seen})  # fmt: skip
        if out_of_time:
            stopped_early = done < config.episodes
            break
    bar.close()
    summary = {
        "best_val_acc": best,
        "episodes_done": history[-1]["episode"] if history else start,
        "stopped_early": stopped_early,
        "train_seconds": round(train_time, 1),  # all segments of a resumed run together
        "images_per_second": round(images_seen / train_time, 1) if train_time else None,
        "device": str(device),
        "history": history,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary


def lr_steps_for(episodes: int, halvings: int = 4) -> int:
    """An lr_step that halves the learning rate ``halvings`` times over ``episodes``."""
    return max(1, math.ceil(episodes / (halvings + 1)))
