"""How one episode's queries are scored from embeddings: the head (prototypes or siamese pairs)
and, optionally, transductive inference over the query batch.

``EpisodeScorer(head, transductive, siamese_reduce)`` maps support (S, d) with episode labels
(S,) and queries (Q, d) to scores (Q, N). With a ``PrototypicalHead`` and no transductive step
that is the head's logits against class means (inductive prototypes); ``cl2n`` centres the
episode on its own mean first; ``bdcspn`` and ``tim`` replace the head's scores with their own
(cosine to rectified prototypes; TIM's probabilities). A ``SiameseHead`` scores every query
against every support image and reduces the pair probabilities per class (``mean`` or
``max``), so a siamese-trained encoder is compared on the very same episodes.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from fewshot.errors import InputError
from fewshot.heads import PrototypicalHead, SiameseHead
from fewshot.transductive import METHODS, centre_on_batch, transductive_scores

TRANSDUCTIVE = ("none", *METHODS)
REDUCTIONS = ("mean", "max")


def siamese_class_scores(
    head: SiameseHead, support: torch.Tensor, support_labels: torch.Tensor,
    query: torch.Tensor, n_way: int, reduce: str = "mean",
) -> torch.Tensor:  # fmt: skip
    """Per-class scores (Q, N) from pair probabilities (Q, S): mean or max over each class's
    support examples (with one shot the two are the same)."""
    pairs = head.score(query, support)  # (Q, S)
    if reduce == "max":
        out = torch.full((query.shape[0], n_way), -1.0, dtype=pairs.dtype)
        index = support_labels[None, :].expand_as(pairs)
        return out.scatter_reduce(1, index, pairs, reduce="amax", include_self=True)
    sums = torch.zeros(query.shape[0], n_way, dtype=pairs.dtype).index_add_(
        1, support_labels, pairs
    )
    return sums / torch.bincount(support_labels, minlength=n_way).clamp_min(1).to(pairs.dtype)


class EpisodeScorer:
    """Scores (Q, N) of an episode's queries; see the module docstring.

    Arguments:
        head: a ``PrototypicalHead`` (any metric) or a ``SiameseHead``.
        transductive: ``none``, ``cl2n``, ``bdcspn`` or ``tim``; with a siamese head only
            ``none`` and ``cl2n`` (the others bring their own classifier).
        siamese_reduce: ``mean`` or ``max`` pair probability per class.
    """

    def __init__(
        self, head: nn.Module, transductive: str = "none", siamese_reduce: str = "mean"
    ) -> None:
        if transductive not in TRANSDUCTIVE:
            raise InputError(
                f"transductive must be one of {', '.join(TRANSDUCTIVE)}, got {transductive!r}"
            )
        if siamese_reduce not in REDUCTIONS:
            raise InputError(f"siamese_reduce must be mean or max, got {siamese_reduce!r}")
        if not isinstance(head, (PrototypicalHead, SiameseHead)):
            raise InputError(
                f"evaluation scores with a PrototypicalHead or a SiameseHead, got "
                f"{type(head).__name__}"
            )
        if isinstance(head, SiameseHead) and transductive not in ("none", "cl2n"):
            raise InputError(
                f"transductive={transductive!r} brings its own classifier; with the siamese "
                "head use --transductive none or cl2n, or use --head prototypical"
            )
        self.head = head.eval()
        self.transductive = transductive
        self.siamese_reduce = siamese_reduce

    @property
    def spec(self) -> dict[str, Any]:
        """The head's spec plus how queries were scored, for reports."""
        spec: dict[str, Any] = dict(getattr(self.head, "spec", {"type": type(self.head).__name__}))
        if isinstance(self.head, SiameseHead):
            spec["reduce"] = self.siamese_reduce
        return spec

    @torch.no_grad()
    def __call__(
        self, support: torch.Tensor, support_labels: torch.Tensor, query: torch.Tensor, n_way: int
    ) -> torch.Tensor:
        """Scores (Q, N): support (S, d), support_labels (S,) in 0..N-1, query (Q, d)."""
        if self.transductive in ("bdcspn", "tim"):
            return transductive_scores(self.transductive, support, support_labels, query, n_way)
        if self.transductive == "cl2n":
            support, query = centre_on_batch(support, query)
        if isinstance(self.head, SiameseHead):
            return siamese_class_scores(
                self.head, support, support_labels, query, n_way, self.siamese_reduce
            )
        protos = self.head.prototypes(support, support_labels, n_way)
        return self.head(query, protos)
