"""Heads and losses against small cases computed by hand."""

from __future__ import annotations

import json
import math

import pytest
import torch
from safetensors.torch import load_file, save_file

from fewshot.heads import (
    CL2N,
    L2Normalize,
    PrototypicalHead,
    SiameseHead,
    build_transform,
    contrastive_loss,
    prototypes,
    siamese_loss,
)


def test_prototypes_are_class_means():
    support = torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 4.0]])
    labels = torch.tensor([0, 0, 1])
    assert torch.equal(prototypes(support, labels), torch.tensor([[1.0, 0.0], [0.0, 4.0]]))


def test_sqeuclidean_logits_and_loss_by_hand():
    head = PrototypicalHead("sqeuclidean")
    protos = torch.tensor([[1.0, 0.0], [0.0, 4.0]])
    query = torch.tensor([[1.0, 1.0]])
    logits = head(query, protos)
    # ‖(1,1)−(1,0)‖² = 1 ; ‖(1,1)−(0,4)‖² = 1 + 9 = 10
    assert torch.allclose(logits, torch.tensor([[-1.0, -10.0]]))
    loss = head.loss(logits, torch.tensor([0]))
    assert loss.item() == pytest.approx(math.log(1 + math.exp(-9)), rel=1e-3)


def test_cosine_logits_scale_and_gradient():
    head = PrototypicalHead("cosine", scale=10.0)
    protos = torch.tensor([[2.0, 0.0], [0.0, 3.0]])
    query = torch.tensor([[1.0, 1.0]])
    logits = head(query, protos)
    c = 1 / math.sqrt(2)
    assert torch.allclose(logits, torch.tensor([[10 * c, 10 * c]]), atol=1e-5)
    head.loss(logits, torch.tensor([1])).backward()
    assert head.log_scale.grad is not None  # the scale learns
    assert head.spec == {"type": "prototypical", "metric": "cosine", "scale": pytest.approx(10.0),
                         "learn_scale": True}  # fmt: skip


def test_episode_loss_accuracy():
    head = PrototypicalHead()
    support = torch.tensor([[0.0], [10.0]])
    query = torch.tensor([[1.0], [9.0], [6.0]])
    loss, acc = head.episode_loss(support, torch.tensor([0, 1]), query, torch.tensor([0, 1, 0]))
    assert acc.item() == pytest.approx(2 / 3)
    assert loss.item() > 0


def test_siamese_weighted_l1_through_sigmoid():
    head = SiameseHead(3)
    with torch.no_grad():
        head.linear.weight.copy_(torch.tensor([[1.0, -2.0, 0.5]]))
        head.linear.bias.fill_(0.25)
    a = torch.tensor([[1.0, 2.0, 3.0]])
    b = torch.tensor([[0.0, 4.0, 3.0]])
    # |a−b| = (1, 2, 0) → 1·1 − 2·2 + 0.5·0 + 0.25 = −2.75
    assert torch.allclose(head(a, b), torch.tensor([-2.75]))
    scores = head.score(a, torch.cat([a, b]))
    assert torch.allclose(scores, torch.sigmoid(torch.tensor([[0.25, -2.75]])))
    loss = siamese_loss(head(a, b), torch.tensor([0]))
    assert loss.item() == pytest.approx(math.log(1 + math.exp(-2.75)), rel=1e-5)


def test_contrastive_loss_by_hand():
    a = torch.tensor([[0.0, 0.0], [0.0, 0.0]])
    b = torch.tensor([[3.0, 4.0], [0.3, 0.4]])
    # same pair at d=5 → 25 ; different pair at d=0.5 with margin 2 → (2−0.5)² = 2.25
    loss = contrastive_loss(a, b, torch.tensor([1, 0]), margin=2.0)
    assert loss.item() == pytest.approx((25 + 2.25) / 2)
    far = contrastive_loss(a[:1], b[:1], torch.tensor([0]), margin=2.0)
    assert far.item() == 0.0


def test_l2_and_cl2n():
    x = torch.tensor([[3.0, 4.0], [1.0, 0.0]])
    assert torch.allclose(L2Normalize()(x), torch.tensor([[0.6, 0.8], [1.0, 0.0]]))
    t = CL2N(2)
    with pytest.raises(RuntimeError, match="fit"):
        t(x)
    t.fit(torch.tensor([[1.0, 1.0], [3.0, 1.0]]))  # mean (2, 1)
    assert torch.allclose(t(torch.tensor([[2.0, 3.0]])), torch.tensor([[0.0, 1.0]]))
    assert build_transform({"type": "cl2n", "dim": 2}).spec == t.spec
    with pytest.raises(ValueError, match="dim"):
        build_transform("cl2n")


def test_heads_save_as_safetensors_and_json(tmp_path):
    for head in (
        PrototypicalHead("cosine", scale=7.0),
        SiameseHead(4),
        CL2N(4).fit(torch.ones(2, 4)),
    ):
        save_file(head.state_dict(), tmp_path / "h.safetensors")
        spec = json.loads(json.dumps(head.spec))
        if spec["type"] == "prototypical":
            clone = PrototypicalHead(spec["metric"], spec["scale"], spec["learn_scale"])
        elif spec["type"] == "siamese":
            clone = SiameseHead(spec["dim"])
        else:
            clone = build_transform(spec)
        clone.load_state_dict(load_file(tmp_path / "h.safetensors"))
        for k, v in head.state_dict().items():
            assert torch.equal(clone.state_dict()[k], v)


def test_bad_arguments():
    with pytest.raises(ValueError, match="metric"):
        PrototypicalHead("manhattan")
    with pytest.raises(ValueError, match="dim"):
        SiameseHead(0)
    with pytest.raises(ValueError, match="margin"):
        contrastive_loss(torch.zeros(1, 2), torch.zeros(1, 2), torch.ones(1), margin=0)
