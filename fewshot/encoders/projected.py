"""A backbone followed by a learned linear projection: the "train only a head on frozen features"
form of transfer. (B, C, H, W) → base features (B, d_in) → (B, d_out).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from fewshot.encoders.architectures import build_architecture
from fewshot.errors import InputError


class Projected(nn.Module):
    """``base`` (any registered architecture) then ``Linear(in_dim, out_dim)``; rebuilt from JSON."""

    def __init__(self, base: str, base_kwargs: dict[str, Any], in_dim: int, out_dim: int):
        super().__init__()
        if not isinstance(out_dim, int) or out_dim < 1:
            raise InputError(f"Projected: `out_dim` must be a positive int, got {out_dim!r}")
        self.base = build_architecture(base, **base_kwargs)
        self.projection = nn.Linear(int(in_dim), out_dim)
        self.out_dim = out_dim

    @classmethod
    def around(cls, base: nn.Module, projection: nn.Linear) -> Projected:
        """``projection`` on top of an existing network ``base`` (shared, not copied): the
        head-only form of transfer on a pre-trained encoder, whose partial checkpoint stores
        the base by name (``fewshot.encoders.partial``)."""
        wrapper = cls.__new__(cls)
        nn.Module.__init__(wrapper)
        wrapper.base = base
        wrapper.projection = projection
        wrapper.out_dim = int(projection.out_features)
        return wrapper

    def stages(self) -> list[nn.Module]:
        """The base's stages, then the projection (transfer training freezes a prefix of them)."""
        stages = getattr(self.base, "stages", None)
        base_stages = stages() if callable(stages) else [self.base]
        return [*base_stages, self.projection]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.projection(self.base(x))
