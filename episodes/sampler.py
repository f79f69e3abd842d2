"""N-way K-shot Q-query episodes: what one is, how they are drawn, and serving them to torch.

Episode ``i`` of a sampler is drawn from its own generator ``default_rng([seed, i])``, so it
is the same in any process, in any order, and in DataLoader workers. ``episodes.manifest``
saves a sampler's episodes to a file so that two methods are scored on identical tasks.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fewshot.data.labelled import check_class_sizes
from fewshot.errors import InputError


@dataclass(frozen=True)
class Episode:
    """One task: ``classes`` (N,) dataset labels; ``support`` (N, K) and ``query`` (N, Q)
    dataset indices, row ``j`` belonging to ``classes[j]`` (episode label ``j``)."""

    classes: np.ndarray
    support: np.ndarray
    query: np.ndarray

    @property
    def n_way(self) -> int:
        return int(self.support.shape[0])

    def support_labels(self) -> np.ndarray:
        """Episode labels 0..N-1 of ``support.ravel()`` (N·K,)."""
        return np.repeat(np.arange(self.n_way), self.support.shape[1])

    def query_labels(self) -> np.ndarray:
        """Episode labels 0..N-1 of ``query.ravel()`` (N·Q,)."""
        return np.repeat(np.arange(self.n_way), self.query.shape[1])


class EpisodeSampler:
    """Draws N-way K-shot Q-query episodes from integer labels, reproducibly.

    Arguments:
        labels: int labels of the dataset's examples (N_examples,).
        n_way, k_shot, q_query: classes per task, support and query examples per class.
        n_episodes: length of the sampler (episode indices 0..n_episodes-1).
        seed: base seed; episode ``i`` uses ``numpy.random.default_rng([seed, i])``.
        class_names: names for errors and manifests (default: the label numbers).
        groups: a group per class (e.g. Omniglot alphabets) for ``within_group`` tasks.
        within_group: draw all N classes of a task from one group; groups with fewer than
            N classes are skipped, and a group is picked with probability ∝ its classes.
            A float in (0, 1) makes that fraction of episodes within-group, the rest across.

    Example:
        >>> s = EpisodeSampler(ds.labels, 5, 1, 15, n_episodes=100, seed=0)
        >>> ep = s[0]; ep.support.shape, ep.query.shape
        ((5, 1), (5, 15))
    """

    def __init__(
        self,
        labels: Sequence[int] | np.ndarray,
        n_way: int,
        k_shot: int,
        q_query: int,
        n_episodes: int = 1000,
        seed: int = 0,
        class_names: Sequence[str] | None = None,
        groups: Sequence[str] | None = None,
        within_group: bool | float = False,
    ) -> None:
        labels = np.asarray(labels)
        if labels.ndim != 1 or labels.size == 0 or not np.issubdtype(labels.dtype, np.integer):
            raise InputError(
                "EpisodeSampler: `labels` must be a non-empty 1-D array of ints (one class "
                "number per example)"
            )
        if labels.min() < 0:
            raise InputError(
                f"EpisodeSampler: `labels` must be class numbers >= 0, got {int(labels.min())}; "
                "map the labels to 0..C-1 first"
            )
        for name, value, low in (
            ("n_way", n_way, 1),
            ("k_shot", k_shot, 1),
            ("q_query", q_query, 0),
            ("n_episodes", n_episodes, 1),
        ):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
                raise InputError(f"EpisodeSampler: `{name}` must be an int >= {low}, got {value!r}")
        n_classes = int(labels.max()) + 1
        names = list(class_names) if class_names is not None else [str(c) for c in range(n_classes)]
        if len(names) < n_classes:
            raise InputError(
                f"EpisodeSampler: `class_names` has {len(names)} names for {n_classes} labels; "
                "pass one name per class number"
            )
        present = np.flatnonzero(np.bincount(labels, minlength=len(names)))
        if n_way > present.size:
            raise InputError(
                f"EpisodeSampler: n_way={n_way} but the data has only {present.size} classes; "
                f"lower n_way to at most {present.size}"
            )
        check_class_sizes(labels, names, k_shot + q_query, f"k_shot + q_query ({k_shot}+{q_query})")

        self.n_way, self.k_shot, self.q_query = int(n_way), int(k_shot), int(q_query)
        self.n_episodes, self.seed = int(n_episodes), int(seed)
        self.class_names = names
        self.within_group = float(within_group)
        if not 0.0 <= self.within_group <= 1.0:
            raise InputError(
                f"EpisodeSampler: `within_group` must be a bool or a fraction in [0, 1], "
                f"got {within_group!r}"
            )
        order = np.argsort(labels, kind="stable")
        bounds = np.searchsorted(labels[order], np.arange(len(names) + 1))
        self._members = [order[bounds[c] : bounds[c + 1]] for c in range(len(names))]
        self._classes = present
        self.groups = list(groups) if groups is not None else None
        if self.within_group > 0:
            if self.groups is None or len(self.groups) < len(names):
                raise InputError(
                    "EpisodeSampler: within_group needs `groups` with one group per class (e.g. "
                    "Omniglot's class_groups); pass them or set within_group=False"
                )
            by_group: dict[str, list[int]] = {}
            for c in present:
                by_group.setdefault(self.groups[c], []).append(int(c))
            usable = {g: np.asarray(cs) for g, cs in by_group.items() if len(cs) >= n_way}
            if not usable:
                biggest = max(len(cs) for cs in by_group.values())
                raise InputError(
                    f"EpisodeSampler: within_group=True with n_way={n_way}, but the largest "
                    f"group has {biggest} classes; lower n_way or sample across groups"
                )
            self._group_names = sorted(usable)
            self._group_classes = [usable[g] for g in self._group_names]
            sizes = np.array([len(c) for c in self._group_classes], dtype=float)
            self._group_p = sizes / sizes.sum()

    def __len__(self) -> int:
        return self.n_episodes

    @property
    def n_classes(self) -> int:
        """Classes with at least one example: those episodes are drawn from."""
        return int(self._classes.size)

    def __iter__(self) -> Iterator[Episode]:
        for i in range(self.n_episodes):
            yield self[i]

    def __getitem__(self, i: int) -> Episode:
        """Episode ``i`` (0 <= i < n_episodes), identical across processes and calls."""
        if not 0 <= i < self.n_episodes:
            raise IndexError(f"episode {i} out of range 0..{self.n_episodes - 1}")
        rng = np.random.default_rng([self.seed, int(i)])
        p = self.within_group
        if p == 1.0 or (p > 0.0 and rng.random() < p):
            g = rng.choice(len(self._group_names), p=self._group_p)
            pool = self._group_classes[g]
        else:
            pool = self._classes
        classes = rng.choice(pool, size=self.n_way, replace=False)
        need = self.k_shot + self.q_query
        picks = np.stack([rng.choice(self._members[c], size=need, replace=False) for c in classes])
        return Episode(classes.astype(np.int64), picks[:, : self.k_shot], picks[:, self.k_shot :])

    def protocol(self) -> dict[str, Any]:
        """The fields that define these episodes, for manifests and reports."""
        return {
            "n_way": self.n_way,
            "k_shot": self.k_shot,
            "q_query": self.q_query,
            "n_episodes": self.n_episodes,
            "seed": self.seed,
            "within_group": self.within_group,
        }


class EpisodeDataset:
    """Map-style dataset of episodes for a ``torch.utils.data.DataLoader`` (``batch_size=None``).

    ``fetch(indices) -> array`` turns dataset indices into inputs (e.g. ``Omniglot.images``);
    item ``i`` is ``(support (N·K, ...), support_labels (N·K,), query (N·Q, ...),
    query_labels (N·Q,))`` as tensors. Give the loader ``worker_init_fn=fewshot.worker_init_fn``
    (one torch and one FAISS thread per worker: a forked FAISS search with several threads can
    hang, see ``fewshot.runtime``).
    """

    def __init__(self, episodes: EpisodeSampler | Sequence[Episode], fetch: Any) -> None:
        self.episodes = episodes
        self.fetch = fetch

    def __len__(self) -> int:
        return len(self.episodes)

    def __getitem__(self, i: int) -> tuple[Any, Any, Any, Any]:
        import torch

        ep = self.episodes[i]
        return (
            torch.as_tensor(self.fetch(ep.support.ravel())),
            torch.as_tensor(ep.support_labels()),
            torch.as_tensor(self.fetch(ep.query.ravel())),
            torch.as_tensor(ep.query_labels()),
        )
