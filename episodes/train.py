"""The episodic training loop, for any data, network, head and number of tasks, on CPU or GPU.

``train(config)`` builds the run (``episodes.train_setup``: trunk, tasks, feeders, heads),
validates the untrained network, then runs ``config.episodes`` training episodes: each is drawn
by ``training_episode`` (its task's sampler, augmentation seeded by episode, the frozen prefix
cached when nothing random happens below the trained blocks) and ``train_step`` takes one Adam
step on the loss of this rank's episodes (prototypical or siamese, plus DANN's domain loss).
Every ``val_every`` episodes it scores every task's fixed validation episodes, prints one JSON
line, keeps the best network (by the mean over tasks; the untrained start is a candidate) as
a ``fewshot.load_encoder`` checkpoint (``<out>/best``, with ``head.safetensors`` for a siamese
head) and saves the training state (``<out>/state``, see ``episodes.state``) so that
``resume=True`` continues exactly; the network as training left it goes to ``<out>/last``. Under
``torchrun`` rank r takes its episodes of each step and rank 0 writes (``episodes.distributed``).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from episodes.config import TrainConfig
from episodes.distributed import (
    World,
    agree,
    barrier,
    gather,
    parameters_sha256,
    start_world,
    stop_world,
    wrap,
)
from episodes.head_files import HEAD_FILE, save_head
from episodes.images import episode_batch
from episodes.state import Progress, has_state, load_state, save_state
from episodes.train_setup import Setup, prepare, training_episode
from fewshot.errors import InputError
from fewshot.heads import Head
from fewshot.progress import progress_bar
from fewshot.runtime import resolve_device

__all__ = ["TrainConfig", "episode_batch", "train", "train_step", "validate"]

LOSS_WINDOW = 50  # training episodes averaged into the progress bar's loss and accuracy


def train_step(
    learner: torch.nn.Module, optimizer: torch.optim.Optimizer, batches: Sequence[Any],
    autocast: Any = None,
) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """One optimiser step averaging the gradients of ``batches`` (this rank's episodes:
    ``TrainingEpisode`` objects, or ``(x, ns, support_labels, query_labels)`` tuples for the
    older ``EpisodeLearner``); under DDP the average also spans every rank. Returns the mean
    ``(loss, accuracy)`` of these episodes."""
    optimizer.zero_grad(set_to_none=True)
    losses, accs = [], []
    for batch in batches:
        if getattr(batch, "seed", None) is not None:
            torch.manual_seed(batch.seed)  # dropout masks follow the episode, not the process
        with autocast() if autocast is not None else torch.enable_grad():
            loss, acc = learner(*batch) if isinstance(batch, tuple) else learner(batch)
        (loss / len(batches)).backward()  # exact halving: equal to DDP's average of two ranks
        losses.append(loss.detach())
        accs.append(acc.detach())
    optimizer.step()
    return torch.stack(losses).mean(), torch.stack(accs).mean()


def validate(setup: Setup) -> dict[str, float]:
    """Mean query accuracy over each task's fixed validation episodes (no augmentation), by
    task name; the trained blocks go back to training mode afterwards."""
    setup.trunk.train(False)
    try:
        size = setup.config.batch_size
        return {
            v.task.name: v.score(setup.embed, setup.heads[v.task.key], size, setup.autocast)
            for v in setup.validation
        }
    finally:
        setup.trunk.train(True)


def train(
    config: TrainConfig, resume: bool = False, progress: bool | None = None
) -> dict[str, Any]:
    """Train; returns the summary also written to ``<out>/summary.json``: best validation
    accuracy (per task too), episodes done, whether it stopped early, training seconds,
    items/s, device, world size, what was trained and how, and the validation history.

    ``resume``: continue from ``<out>/state`` if it exists. ``progress``: show a progress bar
    (``None``: unless ``FEWSHOT_PROGRESS=0``). Each validation prints one JSON line; decisions
    (adapted shapes, augmentation, caching) are logged on stderr.
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


def _log(world: World) -> Any:
    def log(line: str) -> None:
        if world.main:
            print(f"train: {line}", file=sys.stderr, flush=True)

    return log


def _save_network(setup: Setup, config: TrainConfig, folder: Path, info: dict[str, Any]) -> None:
    setup.trunk.save(folder, config, info)
    if config.head == "siamese":
        for n, task in enumerate(setup.tasks):
            name = HEAD_FILE if n == 0 else f"head-{task.name}.safetensors"
            head = setup.heads[task.key]
            assert isinstance(head, Head)
            save_head(head, folder / name)


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
    setup, config = prepare(config, device, _log(world), progress)
    assert config.lr is not None  # prepare resolves it
    lr0 = config.lr
    params = [p for p in setup.learner.parameters() if p.requires_grad]
    if not params:
        raise InputError(
            f"train: freeze_stages={config.freeze_stages} (--freeze-stages) freezes the whole "
            "network and the head has no parameters: nothing to train; freeze fewer stages, "
            "or score the encoder as it is with `fewshot evaluate`"
        )
    learner = wrap(setup.learner, world, device)
    optimizer = torch.optim.Adam(params, lr=lr0, weight_decay=config.weight_decay)
    step_size = max(1, config.lr_step // per_step)  # lr_step counts episodes
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size, config.lr_gamma)
    network, others, keys = setup.state_modules()

    state_dir = out / "state"
    run = Progress()
    if resume and has_state(state_dir):
        run = load_state(state_dir, network, others, optimizer, scheduler, keys)

    def record(episode: int, lr: float, elapsed: float) -> dict[str, Any]:
        scores = validate(setup)
        entry: dict[str, Any] = {"episode": episode, "val_acc": float(np.mean(list(scores.values()))),
                 "lr": lr, "elapsed_s": round(elapsed, 1)}  # fmt: skip
        if len(scores) > 1:
            entry["val_acc_per_task"] = scores
        if setup.learner.last_domain_accuracy is not None:
            entry["domain_acc"] = round(float(setup.learner.last_domain_accuracy), 4)
        run.history.append(entry)
        return entry

    if world.main:
        (out / "config.json").write_text(json.dumps(asdict(config), indent=1))
        if run.episode == 0 and not run.history:  # the untrained baseline: every run shows its gain
            entry = record(0, lr0, 0.0)
            print(json.dumps(entry), flush=True)
            run.best_val = entry["val_acc"]  # a pre-trained start is a candidate: best never loses
            _save_network(setup, config, out / "best", {"episode": 0, "val_acc": entry["val_acc"]})
    barrier(world)
    elapsed_before = run.history[-1]["elapsed_s"] if run.history else 0.0  # wall clock carries on
    t0 = time.perf_counter()
    setup.trunk.train(True)
    steps = config.episodes // per_step
    bar = progress_bar(range(run.episode // per_step, steps), desc="train", enabled=progress)
    running = []
    stopped_early = False
    mine = world.rank * config.episodes_per_step  # this rank's first episode within a step
    for step in bar:
        tick = time.perf_counter()
        first = step * per_step + mine
        batches = [
            training_episode(setup, i, device)
            for i in range(first, first + config.episodes_per_step)
        ]
        loss, acc = train_step(learner, optimizer, batches, setup.autocast)
        scheduler.step()
        running.append((loss, acc))
        run.images_seen += world.size * sum(batch.items for batch in batches)
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
                entry = record(done, float(scheduler.get_last_lr()[0]),
                               elapsed_before + time.perf_counter() - t0)  # fmt: skip
                bar.write(json.dumps(entry))
                if entry["val_acc"] > run.best_val:
                    run.best_val = entry["val_acc"]
                    info = {"episode": done, "val_acc": entry["val_acc"]}
                    _save_network(setup, config, out / "best", info)
                save_state(state_dir, network, others, optimizer, scheduler, run, keys)
            barrier(world)
        if out_of_time:
            stopped_early = done < steps * per_step
            break
    bar.close()
    if world.main:  # the network as training left it, whatever validation preferred
        last = run.history[-1] if run.history else {}
        _save_network(setup, config, out / "last", {"episode": run.episode,
                                                 "val_acc": last.get("val_acc")})  # fmt: skip
    barrier(world)
    ranks = gather(world, {"rank": world.rank, "parameters_sha256": parameters_sha256(network),
                           "first_episode": mine, "episodes_per_step": per_step})  # fmt: skip
    best = max(run.history or [{}], key=lambda h: h.get("val_acc", 0.0))  # first of equals
    summary = {
        "best_val_acc": run.best_val,
        "best_episode": best.get("episode"),
        "best_val_acc_per_task": best.get(
            "val_acc_per_task", {setup.tasks[0].name: best.get("val_acc")}
        ),
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
        **setup.info,
        "history": run.history,
    }
    if world.main:
        (out / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary
