"""Feature transforms applied to embeddings before a metric head: L2 and CL2N.

CL2N (Wang et al. 2019, SimpleShot) subtracts a mean feature — stored as a buffer, so it is
saved with the head — and then L2-normalises.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from fewshot.errors import InputError, NotReadyError


class Identity(nn.Module):
    """No transform: x (N, d) → x."""

    spec: dict[str, Any] = {"type": "identity"}  # noqa: RUF012 (read-only)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class L2Normalize(nn.Module):
    """Rows to unit Euclidean norm: x (N, d) → x / ‖x‖."""

    spec: dict[str, Any] = {"type": "l2"}  # noqa: RUF012 (read-only)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x, dim=1)


class CL2N(nn.Module):
    """Centre with a stored mean, then L2-normalise: x (N, d) → (x − μ) / ‖x − μ‖.

    Call ``fit(features)`` on base-class (training) features first; the mean is a buffer,
    so ``state_dict`` carries it.
    """

    def __init__(self, dim: int):
        super().__init__()
        if not isinstance(dim, int) or dim < 1:
            raise InputError(f"CL2N: `dim` must be a positive int, got {dim!r}")
        self.dim = dim
        self.mean: torch.Tensor
        self.fitted: torch.Tensor
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("fitted", torch.tensor(False))

    @property
    def spec(self) -> dict[str, Any]:
        return {"type": "cl2n", "dim": self.dim}

    @torch.no_grad()
    def fit(self, features: torch.Tensor) -> CL2N:
        """Store the mean of features (N, d); returns self."""
        if features.ndim != 2 or features.shape[1] != self.dim or features.shape[0] == 0:
            raise InputError(
                f"CL2N.fit: expected features (N>0, {self.dim}), got {tuple(features.shape)}"
            )
        self.mean.copy_(features.float().mean(0))
        self.fitted.fill_(True)
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not bool(self.fitted):
            raise NotReadyError("CL2N: call fit(base_features) before transforming features")
        return F.normalize(x - self.mean, dim=1)


def build_transform(spec: dict[str, Any] | str) -> nn.Module:
    """A transform from its ``spec`` (or name: ``identity``, ``l2``, ``cl2n`` needs ``dim``)."""
    if isinstance(spec, str):
        spec = {"type": spec}
    kind = spec.get("type")
    if kind == "identity":
        return Identity()
    if kind == "l2":
        return L2Normalize()
    if kind == "cl2n":
        if "dim" not in spec:
            raise InputError(
                "build_transform: 'cl2n' needs the embedding size, e.g. {'type': 'cl2n', 'dim': 64}"
            )
        return CL2N(int(spec["dim"]))
    raise InputError(f"build_transform: unknown transform {kind!r}; use identity, l2 or cl2n")
