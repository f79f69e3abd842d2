"""Transductive inference on real MiniLM embeddings of CLINC150 test utterances (10 intents of
one domain-mixed draw): each method scores every query, beats or matches inductive prototypes
where the query batch carries information, and keeps its documented invariances."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fewshot.data import load_dataset
from fewshot.errors import InputError
from fewshot.transductive import (
    METHODS,
    bd_cspn_prototypes,
    centre_on_batch,
    cl2n_scores,
    tim_probabilities,
    transductive_scores,
)


@pytest.fixture(scope="module")
def episodes(minilm, shared_data):
    """Twenty 10-way 1-shot 10-query episodes from real CLINC150 embeddings."""
    data = load_dataset("clinc150:test", root=shared_data)
    keep = data.subset(data.class_names[::15][:10])
    z = minilm.embed(keep.inputs(np.arange(len(keep))))
    out = []
    for e in range(20):
        rng = np.random.default_rng([0, e])
        s_idx, q_idx = [], []
        for c in range(10):
            pick = rng.choice(np.flatnonzero(keep.labels == c), 11, replace=False)
            s_idx.append(pick[0])
            q_idx.extend(pick[1:])
        out.append((z[s_idx], np.arange(10), z[q_idx], np.repeat(np.arange(10), 10)))
    return out


def accuracy(scores: torch.Tensor, labels: np.ndarray) -> float:
    return float((scores.argmax(1).numpy() == labels).mean())


def test_each_method_scores_every_query_and_beats_chance(episodes):
    inductive = np.mean([
        accuracy(-torch.cdist(torch.from_numpy(q), torch.from_numpy(s)), y)
        for s, ys, q, y in episodes
    ])  # fmt: skip
    for method in METHODS:
        accs = []
        for s, ys, q, y in episodes:
            scores = transductive_scores(method, s, ys, q)
            assert scores.shape == (100, 10) and torch.isfinite(scores).all()
            accs.append(accuracy(scores, y))
        assert np.mean(accs) > 0.5, method  # chance is 0.1
        assert np.mean(accs) >= inductive - 0.03, (method, np.mean(accs), inductive)


def test_tim_probabilities_are_distributions_and_span_reduction_is_exact(episodes):
    s, ys, q, _ = episodes[0]
    p = tim_probabilities(s, ys, q, iterations=20)
    assert torch.allclose(p.sum(1), torch.ones(100), atol=1e-5)
    small_s, small_q = s[:, :64], q[:5, :64]  # 64 > 10 + 5 rows: the reduced path
    rotation = torch.linalg.qr(torch.randn(64, 64, generator=torch.Generator().manual_seed(0))).Q
    wide = tim_probabilities(small_s, ys, small_q, iterations=20)
    turned = tim_probabilities(
        torch.from_numpy(small_s) @ rotation,
        ys,
        torch.from_numpy(small_q) @ rotation,
        iterations=20,
    )
    assert torch.allclose(wide, turned, atol=1e-4)  # depends on the geometry only


def test_batch_centring_and_bd_cspn_shapes(episodes):
    s, ys, q, _ = episodes[0]
    cs, _ = centre_on_batch(torch.from_numpy(s), torch.from_numpy(q))
    assert torch.allclose(cs.norm(dim=1), torch.ones(10), atol=1e-5)
    assert cl2n_scores(s, ys, q).shape == (100, 10)
    protos, shifted = bd_cspn_prototypes(s, ys, q)
    assert protos.shape == (10, 384) and shifted.shape == (100, 384)
    kept, _ = bd_cspn_prototypes(s, ys, q, top_z=2)
    assert not torch.allclose(kept, protos)


def test_bad_inputs_name_the_fix():
    with pytest.raises(InputError, match="support \\(S, d\\)"):
        cl2n_scores(np.zeros((3, 4)), [0, 1, 2], np.zeros((2, 5)))
    with pytest.raises(InputError, match=r"support_labels must be 0\.\.1"):
        tim_probabilities(np.zeros((2, 4)), [0, 2], np.zeros((2, 4)), n_way=2)
    with pytest.raises(InputError, match="unknown transductive method"):
        transductive_scores("magic", np.zeros((2, 4)), [0, 1], np.zeros((2, 4)))
