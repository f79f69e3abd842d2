"""Lake et al.'s original one-shot protocol as seeded runs: 20-way within one alphabet, every
support image drawn by one person and every query (one per class) by another.

Lake, Salakhutdinov & Tenenbaum (2015) scored 20 such runs on evaluation alphabets (400
one-shot trials); Koch et al.'s siamese net (92.0%), Bayesian Program Learning (96.7%) and
people (95.5%) are reported on that task. Their run files are not in the Omniglot zips, so
``LakeRuns`` draws runs of the same form from ``images_evaluation.zip``: run ``i`` takes alphabet
``i mod A`` of the A alphabets with at least ``n_way`` characters (sorted by name, so the
default 400 runs give 20 per alphabet of the 20 evaluation alphabets), ``n_way`` of its
characters uniformly at random, and two different drawers uniformly among those who drew all of
them; support = drawer one's image of each character, queries = drawer two's. Drawer numbers
are the ``_DD`` of Omniglot's file names (``FewShotDataset.sources``), one person per number
within an alphabet. Run ``i`` uses ``numpy.random.default_rng([seed, i])``, like the episode
sampler, so any run can be rebuilt alone. A run is an ``Episode`` with K = Q = 1.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from episodes.sampler import Episode
from fewshot.errors import InputError


class LakeRuns:
    """``n_runs`` drawer-pair runs over a dataset with class groups and per-item sources.

    Arguments:
        labels: class number of each item (N,).
        groups: the group (alphabet) of each class (C,).
        sources: the drawer of each item (N,).
        n_runs: number of runs (default 400: 20 per evaluation alphabet).
        seed: base seed; run ``i`` uses ``default_rng([seed, i])``.
        n_way: characters per run (20 in Lake et al.).

    Example:
        >>> runs = LakeRuns.from_dataset(Omniglot(root, "evaluation", image_size=105))
        >>> runs[0].support.shape, runs[0].query.shape
        ((20, 1), (20, 1))
    """

    def __init__(
        self, labels: Sequence[int] | np.ndarray, groups: Sequence[str],
        sources: Sequence[int] | np.ndarray, n_runs: int = 400, seed: int = 0, n_way: int = 20,
    ) -> None:  # fmt: skip
        labels, sources = np.asarray(labels, dtype=np.int64), np.asarray(sources, dtype=np.int64)
        for name, value in (("n_runs", n_runs), ("n_way", n_way)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise InputError(f"LakeRuns: `{name}` must be an int >= 1, got {value!r}")
        if sources.shape != labels.shape:
            raise InputError("LakeRuns: give one source (drawer) per item")
        self.n_runs, self.seed, self.n_way = int(n_runs), int(seed), int(n_way)
        self._items: dict[tuple[int, int], list[int]] = {}
        for i, (c, d) in enumerate(zip(labels.tolist(), sources.tolist())):
            self._items.setdefault((c, d), []).append(i)
        self._drawers: dict[int, set[int]] = {}
        for c, d in self._items:
            self._drawers.setdefault(c, set()).add(d)
        by_group: dict[str, list[int]] = {}
        for c in sorted(self._drawers):
            by_group.setdefault(str(groups[c]), []).append(c)
        self.groups = sorted(g for g, cs in by_group.items() if len(cs) >= n_way)
        if not self.groups:
            raise InputError(
                f"LakeRuns: no alphabet has {n_way} characters; lower n_way or use the "
                "Omniglot evaluation split"
            )
        self._classes = [np.asarray(by_group[g]) for g in self.groups]

    @classmethod
    def from_dataset(
        cls, dataset: Any, n_runs: int = 400, seed: int = 0, n_way: int = 20
    ) -> LakeRuns:
        """Runs over a ``FewShotDataset`` with ``class_groups`` and ``sources`` (Omniglot)."""
        if getattr(dataset, "sources", None) is None or dataset.class_groups is None:
            raise InputError(
                "Lake's protocol needs the alphabet of every class and the drawer of every image "
                "(class_groups and sources), which Omniglot has; use --protocol random for "
                "other data"
            )
        return cls(dataset.labels, dataset.class_groups, dataset.sources, n_runs, seed, n_way)

    def __len__(self) -> int:
        return self.n_runs

    def __iter__(self) -> Iterator[Episode]:
        for i in range(self.n_runs):
            yield self[i]

    def __getitem__(self, i: int) -> Episode:
        """Run ``i``: support (N, 1) by one drawer, query (N, 1) by another."""
        if not 0 <= i < self.n_runs:
            raise IndexError(f"run {i} out of range 0..{self.n_runs - 1}")
        rng = np.random.default_rng([self.seed, int(i)])
        pool = self._classes[i % len(self.groups)]
        classes = np.sort(rng.choice(pool, size=self.n_way, replace=False))
        common = sorted(set.intersection(*(self._drawers[int(c)] for c in classes)))
        if len(common) < 2:
            raise InputError(
                f"LakeRuns: run {i} found fewer than two drawers of all its characters"
            )
        first, second = rng.choice(common, size=2, replace=False)
        support = [rng.choice(self._items[(int(c), int(first))]) for c in classes]
        query = [rng.choice(self._items[(int(c), int(second))]) for c in classes]
        return Episode(
            classes.astype(np.int64),
            np.asarray(support, dtype=np.int64)[:, None],
            np.asarray(query, dtype=np.int64)[:, None],
        )

    def protocol(self) -> dict[str, Any]:
        """The fields that define these runs, for manifests and reports."""
        return {
            "protocol": "lake",
            "n_way": self.n_way,
            "k_shot": 1,
            "q_query": 1,
            "n_episodes": self.n_runs,
            "seed": self.seed,
            "within_group": 1.0,
            "alphabets": len(self.groups),
            "drawer_pairs": True,
        }
