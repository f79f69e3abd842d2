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
from episodes.distributed import (
    EpisodeLearner,
    World,
    agree,
    barrier,
    gather,
    parameters_sha256,
    start_world,
    stop_world,
    wrap,
)
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
    learner: torch.nn.Module, optimizer: torch.optim.Optimizer,
    batches: Sequence[tuple[torch.Tensor, int, torch.Tensor, torch.Tensor]],
) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """One optimiser step averaging the gradients of ``batches`` (this rank's episodes, each
    ``(x, ns, support_labels, query_labels)`` as from ``episode_batch``); under DDP the average
    also spans every rank. Returns the mean ``(loss, accuracy)`` of these episodes."""
    optimizer.zero_grad(set_to_none=True)
    losses, accs = [], []
    for x, ns, s_lab, q_lab in batches:
        loss, acc = learner(x, ns, s_lab, q_lab)
        (loss / len(batches)).backward()  # exact halving: equal to DDP's average of two ranks
        losses.append(loss.detach())
        accs.append(acc.detach())
    optimizer.step()
    return torch.stack(losses).mean(), torch.stack(accs).mean()


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
    world, device = start_world(resolve_device(config.device))
    try:
        return _train(config, world, device, out, resume, progress if world.main else False)
    finally:
        stop_world(world)


def _train(
    config: TrainConfig, world: World, device: torch.device, out: Path, resume: bool,
    progress: bool | None,
) -> dict[str, Any]:  # fmt: skip
    per_step = world.size * config.episodes_per_step  # episodes one optimiser step consumes
    if config.episodes < per_step:
        raise InputError(
            f"train: episodes (--episodes) = {config.episodes} is fewer than one step consumes "
            f"({world.size} processes × {config.episodes_per_step} episodes per step)"
        )
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
    learner = wrap(EpisodeLearner(model, head, lambda m, x: embed(m, x, config)), world, device)
    optimizer = torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    step_size = max(1, config.lr_step // per_step)  # lr_step counts episodes
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size, config.lr_gamma)

    def score() -> float:
        return validate(
            model, head, val_images, validation.sampler, validation.positions, config, frozen
        )

    state_dir = out / "state"
    run = Progress()
    if resume and has_state(state_dir):
        run = load_state(state_dir, model, head, optimizer, scheduler)
    if world.main:
        (out / "config.json").write_text(json.dumps(asdict(config), indent=1))
        if run.episode == 0 and not run.history:  # the untrained baseline: every run shows its gain
            run.history.append(
                {"episode": 0, "val_acc": score(), "lr": config.lr, "elapsed_s": 0.0}
            )
            print(json.dumps(run.history[-1]), flush=True)
    barrier(world)
    elapsed_before = run.history[-1]["elapsed_s"] if run.history else 0.0  # wall clock carries on
    t0 = time.perf_counter()
    set_training(model, True, frozen)
    steps = config.episodes // per_step
    bar = progress_bar(range(run.episode // per_step, steps), desc="train", enabled=progress)
    running = []
    stopped_early = False
    mine = world.rank * config.episodes_per_step  # this rank's first episode within a step
    for step in bar:
        tick = time.perf_counter()
        first = step * per_step + mine
        batches = [
            episode_batch(training.sampler, i, training.positions, images, config)
            for i in range(first, first + config.episodes_per_step)
        ]
        loss, acc = train_step(learner, optimizer, batches)
        scheduler.step()
        running.append((loss, acc))
        run.images_seen += world.size * sum(batch[0].shape[0] for batch in batches)
        if len(running) == LOSS_WINDOW or step + 1 == steps:
            vals = torch.stack([torch.stack(r) for r in running]).mean(0).tolist()
            bar.set_postfix(loss=f"{vals[0]:.3f}", acc=f"{vals[1]:.3f}")
            running = []
        run.train_seconds += time.perf_counter() - tick
        run.episode = done = (step + 1) * per_step
        out_of_time = agree(world, (config.max_minutes is not None and (
            time.perf_counter() - t0 > 60 * config.max_minutes
        )) or (config.stop_at is not None and done >= config.stop_at))  # fmt: skip
        crossed = done // config.val_every > (done - per_step) // config.val_every
        if crossed or step + 1 == steps or out_of_time:
            if world.main:
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
            barrier(world)
        if out_of_time:
            stopped_early = done < steps * per_step
            break
    bar.close()
    ranks = gather(world, {"rank": world.rank, "parameters_sha256": parameters_sha256(model),
                           "first_episode": mine, "episodes_per_step": per_step})  # fmt: skip
    summary = {
        "best_val_acc": run.best_val,
        "episodes_done": run.history[-1]["episode"] if run.history else run.episode,
        "stopped_early": stopped_early,
        "train_seconds": round(run.train_seconds, 1),  # all segments of a resumed run together
        "images_per_second": (
            round(run.images_seen / run.train_seconds, 1) if run.train_seconds else None
        ),
        "device": str(device),
        "world_size": world.size,
        "episodes_per_step": per_step,
        "ranks": ranks,
        "history": run.history,
    }
    if world.main:
        (out / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary
