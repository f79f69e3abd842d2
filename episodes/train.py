"""The prototypical-network training loop on Omniglot episodes, on CPU or GPU.

``train(config)`` validates the untrained network, then runs ``config.episodes`` training
steps: ``episode_batch`` gathers an episode's images (N·K + N·Q, 1, S, S) from the device and
augments them, ``train_step`` embeds them and takes one Adam step on the prototypical loss.
Every ``val_every`` episodes it scores the fixed validation episodes (``validate``), keeps the
best network as a ``fewshot.load_encoder`` checkpoint (``<out>/best``) and saves the training
state (``<out>/state``, see ``episodes.state``) so that ``resume=True`` continues exactly.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from episodes.augment import random_affine
from episodes.config import TrainConfig
from episodes.images import DeviceImages
from episodes.network import build_model, embed, save_encoder
from episodes.sampler import EpisodeSampler
from episodes.splits import episode_sources
from episodes.state import Progress, has_state, load_state, save_state
from episodes.transfer import set_training
from fewshot.errors import InputError
from fewshot.heads import PrototypicalHead
from fewshot.progress import progress_bar
from fewshot.runtime import resolve_device

__all__ = ["TrainConfig", "episode_batch", "train", "train_step", "validate"]

LOSS_WINDOW = 50  # training episodes averaged into the progress bar's loss and accuracy


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
def validate(
    model: torch.nn.Module, head: PrototypicalHead, images: DeviceImages,
    sampler: EpisodeSampler, positions: np.ndarray, config: TrainConfig,
    frozen: Sequence[torch.nn.Module] = (),
) -> float:  # fmt: skip
    """Mean query accuracy over the fixed validation episodes (no augmentation); restores the
    network's training mode, frozen stages staying in eval mode."""
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


def train(
    config: TrainConfig, resume: bool = False, progress: bool | None = None
) -> dict[str, Any]:
    """Train a ProtoNet backbone; returns the summary also written to ``<out>/summary.json``:
    best validation accuracy, episodes done, whether it stopped early, training seconds,
    images/s, device and the validation history.

    ``resume``: continue from ``<out>/state`` if it exists. ``progress``: show a progress bar
    (``None``: unless ``FEWSHOT_PROGRESS=0``). Each validation prints one JSON line.
    """
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    if config.threads:
        torch.set_num_threads(config.threads)
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    training, validation = episode_sources(config)
    images = DeviceImages(training.dataset, device)
    val_images = (
        images
        if validation.dataset is training.dataset
        else DeviceImages(validation.dataset, device)
    )

    model, architecture, kwargs, frozen = build_model(config)
    model.to(device)
    if config.channels_last:
        model.to(memory_format=torch.channels_last)
    head = PrototypicalHead(config.metric).to(device)
    params = [p for p in model.parameters() if p.requires_grad] + list(head.parameters())
    if not params:
        raise InputError(
            f"train: freeze_stages={config.freeze_stages} (--freeze-stages) freezes the whole "
            "network and the head has no parameters: nothing to train; freeze fewer stages, "
            "or score the encoder as it is with `fewshot evaluate`"
        )
    optimizer = torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, config.lr_step, config.lr_gamma)

    def score() -> float:
        return validate(
            model, head, val_images, validation.sampler, validation.positions, config, frozen
        )

    state_dir = out / "state"
    run = Progress()
    if resume and has_state(state_dir):
        run = load_state(state_dir, model, head, optimizer, scheduler)
    (out / "config.json").write_text(json.dumps(asdict(config), indent=1))

    if run.episode == 0 and not run.history:  # the untrained baseline: every run shows its gain
        run.history.append({"episode": 0, "val_acc": score(), "lr": config.lr, "elapsed_s": 0.0})
        print(json.dumps(run.history[-1]), flush=True)
    elapsed_before = run.history[-1]["elapsed_s"] if run.history else 0.0  # wall clock carries on
    t0 = time.perf_counter()
    set_training(model, True, frozen)
    bar = progress_bar(range(run.episode, config.episodes), desc="train", enabled=progress)
    running = []
    stopped_early = False
    for i in bar:
        tick = time.perf_counter()
        x, ns, s_lab, q_lab = episode_batch(training.sampler, i, training.positions, images, config)
        loss, acc = train_step(model, head, optimizer, x, ns, s_lab, q_lab, config)
        scheduler.step()
        running.append((loss.detach(), acc.detach()))
        run.images_seen += x.shape[0]
        if len(running) == LOSS_WINDOW or i + 1 == config.episodes:
            vals = torch.stack([torch.stack(r) for r in running]).mean(0).tolist()
            bar.set_postfix(loss=f"{vals[0]:.3f}", acc=f"{vals[1]:.3f}")
            running = []
        run.train_seconds += time.perf_counter() - tick
        run.episode = done = i + 1
        out_of_time = (config.max_minutes is not None and (
            time.perf_counter() - t0 > 60 * config.max_minutes
        )) or (config.stop_at is not None and done >= config.stop_at)  # fmt: skip
        if done % config.val_every == 0 or done == config.episodes or out_of_time:
            val_acc = score()
            record = {"episode": done, "val_acc": val_acc, "lr": scheduler.get_last_lr()[0],
                      "elapsed_s": round(elapsed_before + time.perf_counter() - t0, 1)}  # fmt: skip
            run.history.append(record)
            bar.write(json.dumps(record))
            if val_acc > run.best_val:
                run.best_val = val_acc
                info = {"episode": done, "val_acc": val_acc}
                save_encoder(model, architecture, kwargs, config, out / "best", info)
            save_state(state_dir, model, head, optimizer, scheduler, run)
        if out_of_time:
            stopped_early = done < config.episodes
            break
    bar.close()
    summary = {
        "best_val_acc": run.best_val,
        "episodes_done": run.history[-1]["episode"] if run.history else run.episode,
        "stopped_early": stopped_early,
        "train_seconds": round(run.train_seconds, 1),  # all segments of a resumed run together
        "images_per_second": (
            round(run.images_seen / run.train_seconds, 1) if run.train_seconds else None
        ),
        "device": str(device),
        "history": run.history,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary
