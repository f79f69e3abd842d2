"""What every head shares: a JSON ``spec`` from which ``fewshot.heads.build.build_head`` rebuilds it.

A head is a small ``nn.Module`` on top of embeddings (B, d). Its weights live in its state dict
(saved as safetensors); its ``spec`` holds everything else, so nothing is ever pickled.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

from torch import nn


class Head(nn.Module):
    """Base of the metric heads: subclasses give ``spec`` and accept it back as keywords."""

    @property
    @abstractmethod
    def spec(self) -> dict[str, Any]:
        """JSON description: ``{"type": ..., **constructor keywords}``."""
