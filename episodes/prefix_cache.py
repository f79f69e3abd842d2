"""The frozen blocks' output for dataset items, computed once: the big speed-up of training only
the later blocks of a pre-trained network, valid while nothing random happens below them.

``Activations(feeder, plan, cache)`` gives the activations the trained blocks start from:
``plan.prefix(feeder.batch(indices, generator))``, or, with a ``PrefixCache``, the stored
float16 rows of items already seen and the prefix of the others, computed on first use in fixed
blocks of items (a 30-episode run pays only for the blocks it draws from). Images store ``(C, h, w)`` maps (or ``(d,)``
embeddings when no block is trained); texts store each item's hidden states ``(T_i, H)``
without padding, re-padded per batch into a ``TokenStates``. The cache is refused, with a log
line, when it would exceed its byte budget.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch.nn.utils.rnn import pad_sequence

from episodes.inputs import Feeder
from fewshot.encoders import BlockPlan, TokenStates

Log = Callable[[str], None]


class PrefixCache:
    """float16 prefix activations of the dataset items ``needed`` (indices into a dataset of
    ``n_items``), filled on first use, within ``budget`` bytes."""

    def __init__(
        self, needed: np.ndarray, n_items: int, budget: int, log: Log, name: str,
        chunk: int = 32, channels_last: bool = True,
    ) -> None:  # fmt: skip
        needed = np.unique(np.asarray(needed, dtype=np.int64))
        self.row = np.full(n_items, -1, dtype=np.int64)
        self.row[needed] = np.arange(needed.size)
        self.items = needed
        self.filled = np.zeros(needed.size, dtype=bool)
        self.budget, self.log, self.name = budget, log, name
        self.chunk, self.channels_last = chunk, channels_last
        self.store: torch.Tensor | None = None
        self.texts: list[dict[str, torch.Tensor]] = []
        self.tags: dict[str, Any] = {}
        self.enabled = True

    def get(self, indices: np.ndarray, compute: Callable[[np.ndarray], Any]) -> Any:
        """Activations of items ``indices`` (dataset indices); ``compute(indices)`` runs the
        prefix on items not stored yet (at most ``chunk`` at a time)."""
        if not self.enabled:
            return compute(indices)
        rows = self.row[np.asarray(indices, dtype=np.int64)]
        # Items are computed in fixed blocks of ``chunk`` rows, whichever item asks first: an
        # item's stored activation never depends on the batch it arrived in (batch shapes and
        # padding change the float rounding), so runs agree however episodes are split over
        # processes or steps.
        for block in np.unique(rows[~self.filled[rows]] // self.chunk).tolist():
            part = np.arange(block * self.chunk, min((block + 1) * self.chunk, self.items.size))
            self._put(part, compute(self.items[part]))
            if not self.enabled:
                return compute(indices)
        return self._take(rows)

    def _put(self, rows: np.ndarray, activation: Any) -> None:
        if isinstance(activation, TokenStates):
            if not self.texts:
                self.texts = [{} for _ in range(self.items.size)]
                self.tags = {k: v for k, v in activation.tokens.items()
                             if not isinstance(v, torch.Tensor)}  # fmt: skip
            lengths = activation.tokens["attention_mask"].sum(1).tolist()
            for i, (row, length) in enumerate(zip(rows.tolist(), lengths, strict=True)):
                entry = {k: v[i, :length] for k, v in activation.tokens.items()
                         if isinstance(v, torch.Tensor)}  # fmt: skip
                entry["hidden"] = activation.hidden[i, :length].half()
                self.texts[row] = entry
        else:
            if self.store is None:
                per_item = activation[0].numel() * 2
                if per_item * self.items.size > self.budget:
                    self.enabled = False
                    self.log(
                        f"[{self.name}] caching the frozen blocks' output would take "
                        f"{per_item * self.items.size / 2**20:.0f} MB, over --cache-mb "
                        f"{self.budget // 2**20}: it is recomputed every episode instead"
                    )
                    return
                shape = (self.items.size, *activation.shape[1:])
                self.store = torch.empty(shape, dtype=torch.float16, device=activation.device)
            index = torch.from_numpy(rows).to(self.store.device)
            self.store[index] = activation.to(torch.float16)
        self.filled[rows] = True

    def _take(self, rows: np.ndarray) -> Any:
        if self.texts:
            picked = [self.texts[row] for row in rows.tolist()]
            tokens: dict[str, Any] = {
                key: pad_sequence([p[key] for p in picked], batch_first=True)
                for key in picked[0]
                if key != "hidden"
            }
            hidden = pad_sequence([p["hidden"] for p in picked], batch_first=True).float()
            return TokenStates(hidden, {**tokens, **self.tags})
        assert self.store is not None
        out = self.store[torch.from_numpy(rows).to(self.store.device)].float()
        if out.ndim == 4 and self.channels_last:
            out = out.contiguous(memory_format=torch.channels_last)
        return out


class Activations:
    """The input of the trained blocks for items of ``feeder``: the frozen prefix on a fresh
    (possibly augmented) batch, or through ``cache`` when one is given."""

    def __init__(self, feeder: Feeder, plan: BlockPlan, cache: PrefixCache | None) -> None:
        self.feeder, self.plan, self.cache = feeder, plan, cache

    def __call__(self, indices: np.ndarray, generator: torch.Generator | None = None) -> Any:
        """Prefix activations of dataset items ``indices`` (images: B×C×h×w; texts:
        ``TokenStates``; B×d when no block is trained)."""
        if self.cache is None:
            return self.plan.prefix(self.feeder.batch(indices, generator))
        return self.cache.get(indices, lambda part: self.plan.prefix(self.feeder.batch(part)))
