"""learn2learn interop (optional extra): our datasets and episodes ⇄ its ``MetaDataset`` and
``TaskDataset``, task for task. ``episodes.maml`` trains its MAML on our episodes.

learn2learn 0.2.0 renamed ``TaskDataset`` to ``Taskset`` (``TaskDataset`` is now a deprecated
subclass); both work here. learn2learn is imported lazily, only by the functions that need it;
install it with ``python scripts/install_learn2learn.py`` (the README's "learn2learn
(optional)" section says why it needs a script). ``fewshot`` never imports this module.

Task layout. A learn2learn task built here, or read from a learn2learn ``TaskDataset``, is
``(X, y)`` with its examples grouped by class: class 0's K support examples then its Q query
examples, then class 1's, and so on (the order ``NWays → KShots`` produces). Our ``Episode``
keeps ``support`` (N, K) and ``query`` (N, Q) dataset indices with row ``j`` = class ``j``, so
``episode_order(ep)`` is the flat index order of the task and ``split_task`` undoes it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from episodes.sampler import Episode
from fewshot.errors import InputError

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
        raise InputError(
            f"split_task: {x.shape[0]} examples are not {n_way} classes × (k_shot={k_shot} + "
            "at least one query); pass the task's own n_way and k_shot"
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
        raise InputError("episodes_to_taskdataset: `episodes` is empty; pass at least one")
    load = l2l.data.transforms.LoadData(dataset)
    taskset = l2l.data.Taskset(dataset, task_transforms=[], num_tasks=len(episodes))
    labels_of = dataset.indices_to_labels
    for i, ep in enumerate(episodes):
        order = episode_order(ep)
        for c, idx in zip(ep.classes, ep.support[:, 0]):
            if labels_of[int(idx)] != int(c):
                raise InputError(
                    f"episodes_to_taskdataset: episode {i} says class {int(c)} but the dataset "
                    f"labels example {int(idx)} as {labels_of[int(idx)]}; wrong dataset? Pass "
                    "the meta_dataset of the data the episodes were drawn from"
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
        raise InputError(
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
            raise InputError(
                "taskdataset_to_episodes: the taskset samples new tasks forever (num_tasks=-1); "
                "pass n_tasks, how many to draw"
            )
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
