"""learn2learn interop (optional extra): our episodes ⇄ its ``TaskDataset``, and a MAML baseline.

learn2learn 0.2.0 renamed ``TaskDataset`` to ``Taskset`` (``TaskDataset`` is now a deprecated
subclass); both work here. learn2learn is imported lazily, only by the functions that need it;
install it with ``python scripts/install_learn2learn.py`` (DESIGN §5). ``fewshot`` never
imports this module.

Task layout. A learn2learn task built here, or read from a learn2learn ``TaskDataset``, is
``(X, y)`` with its examples grouped by class: class 0's K support examples then its Q query
examples, then class 1's, and so on (the order ``NWays → KShots`` produces). Our ``Episode``
keeps ``support`` (N, K) and ``query`` (N, Q) dataset indices with row ``j`` = class ``j``, so
``episode_order(ep)`` is the flat index order of the task and ``split_task`` undoes it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from episodes.sampler import Episode

INSTALL_HINT = "install it with `python scripts/install_learn2learn.py` (see README, learn2learn)"


def require_learn2learn() -> Any:
    """The ``learn2learn`` module, or an ImportError that says how to install it."""
    try:
        import learn2learn
    except ImportError as e:  # pragma: no cover - exercised only without the extra
        raise ImportError(f"learn2learn is not installed; {INSTALL_HINT}") from e
    return learn2learn


class IndexedDataset(Dataset):
    """Torch dataset over ``fetch(indices) -> array`` and int ``labels``: item ``i`` is
    ``(tensor of fetch([i])[0], int label)``, the per-item view learn2learn's MetaDataset wants.

    With ``fetch=Omniglot.images`` an item is uint8 (S, S), ink 0, exactly what our
    ``EpisodeDataset`` returns for the same index.
    """

    def __init__(self, fetch: Callable[[np.ndarray], Any], labels: Sequence[int] | np.ndarray):
        self.fetch = fetch
        self.labels = np.asarray(labels, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return torch.as_tensor(self.fetch(np.array([i]))[0]), int(self.labels[i])


def meta_dataset(fetch: Callable[[np.ndarray], Any], labels: Sequence[int] | np.ndarray) -> Any:
    """A learn2learn ``MetaDataset`` over ``IndexedDataset(fetch, labels)``.

    Its label bookkeeping is built from ``labels`` directly (learn2learn would otherwise load
    every example once to read its label).
    """
    l2l = require_learn2learn()
    labels = np.asarray(labels, dtype=np.int64)
    order = np.argsort(labels, kind="stable")
    classes, starts = np.unique(labels[order], return_index=True)
    bounds = [*starts.tolist(), len(order)]
    labels_to_indices = {
        int(c): order[bounds[j] : bounds[j + 1]].tolist() for j, c in enumerate(classes)
    }
    return l2l.data.MetaDataset(IndexedDataset(fetch, labels), labels_to_indices=labels_to_indices)


def episode_order(ep: Episode) -> np.ndarray:
    """Dataset indices of ``ep`` in task order (N·(K+Q),): per class, its support then query."""
    return np.concatenate([ep.support, ep.query], axis=1).ravel()


def episode_task_labels(ep: Episode) -> np.ndarray:
    """Episode labels 0..N-1 in task order (N·(K+Q),)."""
    return np.repeat(np.arange(ep.n_way), ep.support.shape[1] + ep.query.shape[1])


def split_task(
    x: torch.Tensor, y: torch.Tensor, n_way: int, k_shot: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Split a class-grouped task ``x`` (N·(K+Q), ...), ``y`` (N·(K+Q),) into
    ``(support (N·K, ...), support_labels, query (N·Q, ...), query_labels)``, the layout of
    our ``EpisodeDataset`` items."""
    per_class = x.shape[0] // n_way
    if per_class * n_way != x.shape[0] or per_class <= k_shot:
        raise ValueError(
            f"split_task: {x.shape[0]} examples are not {n_way} classes × (k_shot={k_shot} + "
            "at least one query)"
        )
    support = torch.zeros(per_class, dtype=torch.bool)
    support[:k_shot] = True
    support = support.repeat(n_way)
    return x[support], y[support], x[~support], y[~support]


def _remap(item: Any, mapping: dict[int, int]) -> list[Any]:
    """learn2learn per-example transform: replace the dataset label by the episode label."""
    x, label = item[0], item[1]
    return [x, mapping[int(label)]]


def episodes_to_taskdataset(episodes: Sequence[Episode], dataset: Any) -> Any:
    """A learn2learn ``TaskDataset`` whose task ``i`` is exactly ``episodes[i]``.

    ``dataset`` is a ``MetaDataset`` from ``meta_dataset`` (its indices are our dataset
    indices). Task ``i`` is ``(X (N·(K+Q), ...), y (N·(K+Q),))`` in ``episode_order`` with
    ``y`` the episode labels 0..N-1 (class ``j`` = ``episodes[i].classes[j]``), so
    ``split_task(X, y, N, K)`` gives the tensors our ``EpisodeDataset`` gives.
    """
    l2l = require_learn2learn()
    from learn2learn.data.task_dataset import DataDescription

    if not episodes:
        raise ValueError("episodes_to_taskdataset: no episodes")
    load = l2l.data.transforms.LoadData(dataset)
    taskset = l2l.data.Taskset(dataset, task_transforms=[], num_tasks=len(episodes))
    labels_of = dataset.indices_to_labels
    for i, ep in enumerate(episodes):
        order = episode_order(ep)
        for c, idx in zip(ep.classes, ep.support[:, 0]):
            if labels_of[int(idx)] != int(c):
                raise ValueError(
                    f"episodes_to_taskdataset: episode {i} says class {int(c)} but the dataset "
                    f"labels example {int(idx)} as {labels_of[int(idx)]}; wrong dataset?"
                )
        description = load([DataDescription(int(j)) for j in order])
        mapping = {int(c): j for j, c in enumerate(ep.classes)}
        for dd in description:
            dd.transforms.append(lambda item, m=mapping: _remap(item, m))
        taskset.sampled_descriptions[i] = description
    return taskset


def description_to_episode(description: Sequence[Any], labels_of: Any, k_shot: int) -> Episode:
    """Our ``Episode`` from a learn2learn task description (a list of ``DataDescription``).

    Classes are ordered by first appearance; of each class's examples (in description order)
    the first ``k_shot`` are support and the rest query. ``labels_of`` maps an index to its
    dataset label (``MetaDataset.indices_to_labels``).
    """
    by_class: dict[int, list[int]] = {}
    for dd in description:
        by_class.setdefault(int(labels_of[dd.index]), []).append(int(dd.index))
    sizes = {len(v) for v in by_class.values()}
    if len(sizes) != 1 or (per := sizes.pop()) <= k_shot:
        raise ValueError(
            f"description_to_episode: classes have {sorted(len(v) for v in by_class.values())} "
            f"examples; need the same number per class, more than k_shot={k_shot}"
        )
    rows = np.asarray(list(by_class.values()), dtype=np.int64).reshape(len(by_class), per)
    classes = np.asarray(list(by_class), dtype=np.int64)
    return Episode(classes, rows[:, :k_shot], rows[:, k_shot:])


def taskdataset_to_episodes(taskset: Any, k_shot: int, n_tasks: int | None = None) -> list[Episode]:
    """Our episodes from a learn2learn ``TaskDataset`` (e.g. NWays, KShots(K+Q), LoadData,
    RemapLabels over a ``meta_dataset``): the same classes and examples, savable as a manifest.

    With a fixed ``num_tasks`` this reads task ``i``'s cached description (sampling it first,
    exactly as ``taskset[i]`` would); with ``num_tasks=-1`` it samples ``n_tasks`` new ones
    (seed Python's ``random`` for reproducibility).
    """
    if taskset.num_tasks == -1:
        if n_tasks is None:
            raise ValueError("taskdataset_to_episodes: num_tasks is -1, so pass n_tasks")
        descriptions = [taskset.sample_task_description() for _ in range(n_tasks)]
    else:
        n = taskset.num_tasks if n_tasks is None else min(n_tasks, taskset.num_tasks)
        descriptions = []
        for i in range(n):
            if i not in taskset.sampled_descriptions:
                taskset.sampled_descriptions[i] = taskset.sample_task_description()
            descriptions.append(taskset.sampled_descriptions[i])
    labels_of = taskset.dataset.indices_to_labels
    return [description_to_episode(d, labels_of, k_shot) for d in descriptions]


# ---------------------------------------------------------------------------------------------
# MAML baseline (learn2learn's implementation) on our episodes


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
    config: MAMLConfig, images: Any, labels: np.ndarray, progress: bool = True
) -> tuple[Any, dict[str, Any]]:
    """Meta-train ``MAML(CNN4)`` on tasks from our ``EpisodeSampler`` over ``labels``;
    ``images.batch(indices)`` → float (B, 1, S, S). Returns ``(maml, summary)``."""
    from tqdm.auto import tqdm

    from episodes.sampler import EpisodeSampler

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
    bar = tqdm(desc="maml", disable=not progress, mininterval=5)
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
