"""A MAML baseline (learn2learn's ``algorithms.MAML`` on its ``CNN4``) on our episodes.

``train_maml`` meta-trains on tasks from an ``EpisodeSampler``: each task's images
(N·K + N·Q, 1, S, S) come from ``images.batch``, a clone of the model adapts on the support
with SGD and is scored on the query, and the query losses of a meta-batch update the
initialisation with Adam. ``evaluate_maml`` adapts on each test episode's support and returns
per-episode query accuracy, so MAML is scored on exactly the episodes ProtoNet is
(``benchmarks/maml_vs_protonet.py``). Needs the optional learn2learn extra.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from episodes.learn2learn import require_learn2learn
from episodes.sampler import Episode, EpisodeSampler
from fewshot.progress import progress_bar


@dataclass
class MAMLConfig:
    """A MAML run (Finn et al. 2017, learn2learn's ``algorithms.MAML``) on N-way K-shot tasks.

    Defaults follow learn2learn's ``examples/vision/maml_omniglot.py`` (fast_lr 0.5, meta_lr
    0.003, meta-batch 32, one inner step, second order) except ``test_steps``, the inner steps
    at evaluation (Finn et al. used 3 on Omniglot). ``minutes`` bounds training time (CPU budget).
    """

    n_way: int = 5
    k_shot: int = 1
    q_query: int = 5
    meta_batch: int = 32
    fast_lr: float = 0.5
    meta_lr: float = 0.003
    train_steps: int = 1
    test_steps: int = 3
    first_order: bool = False
    hidden: int = 64
    image_size: int = 28
    minutes: float = 3.0
    max_iterations: int | None = None
    seed: int = 0


def maml_model(n_way: int, hidden: int = 64, image_size: int = 28) -> torch.nn.Module:
    """learn2learn's ``CNN4`` for 1-channel ``image_size`` inputs: (B, 1, S, S) → logits (B, N)."""
    l2l = require_learn2learn()
    side = image_size
    for _ in range(4):
        side //= 2
    return l2l.vision.models.CNN4(
        output_size=n_way, hidden_size=hidden, layers=4, channels=1,
        embedding_size=hidden * side * side,
    )  # fmt: skip


def adapt_and_predict(
    learner: Any, support: torch.Tensor, support_labels: torch.Tensor, query: torch.Tensor,
    steps: int,
) -> torch.Tensor:  # fmt: skip
    """Adapt a cloned MAML ``learner`` on support (N·K, 1, S, S) for ``steps`` SGD steps;
    query logits (M, N)."""
    for _ in range(steps):
        learner.adapt(torch.nn.functional.cross_entropy(learner(support), support_labels))
    return learner(query)


def train_maml(
    config: MAMLConfig, images: Any, labels: np.ndarray, progress: bool | None = None
) -> tuple[Any, dict[str, Any]]:
    """Meta-train ``MAML(CNN4)`` on tasks from our ``EpisodeSampler`` over ``labels``;
    ``images.batch(indices)`` → float (B, 1, S, S) (e.g. ``episodes.images.DeviceImages``).
    Returns ``(maml, summary)``; ``progress``: show a bar (``None``: unless
    ``FEWSHOT_PROGRESS=0``)."""
    l2l = require_learn2learn()
    torch.manual_seed(config.seed)
    model = maml_model(config.n_way, config.hidden, config.image_size)
    maml = l2l.algorithms.MAML(model, lr=config.fast_lr, first_order=config.first_order)
    optimizer = torch.optim.Adam(maml.parameters(), config.meta_lr)
    limit = config.max_iterations or 10**9
    sampler = EpisodeSampler(labels, config.n_way, config.k_shot, config.q_query,
                             n_episodes=min(limit * config.meta_batch, 2**62), seed=config.seed)  # fmt: skip
    t0 = time.perf_counter()
    iteration, task, history = 0, 0, []
    bar = progress_bar(desc="maml", enabled=progress)
    while iteration < limit and time.perf_counter() - t0 < 60 * config.minutes:
        optimizer.zero_grad(set_to_none=True)
        accs = []
        for _ in range(config.meta_batch):
            ep = sampler[task]
            task += 1
            x = images.batch(np.concatenate([ep.support.ravel(), ep.query.ravel()]))
            ns = ep.support.size
            s_lab = torch.as_tensor(ep.support_labels())
            q_lab = torch.as_tensor(ep.query_labels())
            logits = adapt_and_predict(maml.clone(), x[:ns], s_lab, x[ns:], config.train_steps)
            (torch.nn.functional.cross_entropy(logits, q_lab) / config.meta_batch).backward()
            accs.append((logits.argmax(1) == q_lab).float().mean().item())
        optimizer.step()
        iteration += 1
        bar.update()
        if iteration % 25 == 0:
            history.append({"iteration": iteration, "train_query_acc": float(np.mean(accs)),
                            "elapsed_s": round(time.perf_counter() - t0, 1)})  # fmt: skip
            bar.set_postfix(acc=f"{np.mean(accs):.3f}")
    bar.close()
    summary = {
        "config": asdict(config),
        "iterations": iteration,
        "tasks": task,
        "train_seconds": round(time.perf_counter() - t0, 1),
        "history": history,
    }
    return maml, summary


def evaluate_maml(
    maml: Any, fetch: Callable[[np.ndarray], torch.Tensor], episodes: Sequence[Episode], steps: int
) -> np.ndarray:
    """Per-episode query accuracy (E,) of MAML adapted ``steps`` times on each episode's
    support; ``fetch(indices)`` → float (B, 1, S, S)."""
    accs = np.empty(len(episodes))
    for e, ep in enumerate(episodes):
        x = fetch(np.concatenate([ep.support.ravel(), ep.query.ravel()]))
        ns = ep.support.size
        learner = maml.clone()
        logits = adapt_and_predict(
            learner, x[:ns], torch.as_tensor(ep.support_labels()), x[ns:], steps
        )
        accs[e] = (logits.argmax(1).numpy() == ep.query_labels()).mean()
    return accs
