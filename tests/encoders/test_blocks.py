"""Blocks and plans: every family's split forward equals its network's own forward, frozen blocks
keep their weights and BatchNorm statistics while the rest trains, and depth errors name the range."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from fewshot.encoders import TokenStates, network_blocks, plan_blocks
from fewshot.encoders.backbones import Conv4, ResNet12
from fewshot.encoders.projected import Projected
from fewshot.encoders.torchvision_backbone import build_torchvision
from fewshot.errors import InputError

TEXTS = ["I lost my card", "how do I reset the pin of my debit card please", "hi"]


@pytest.fixture(scope="module")
def photos() -> list[np.ndarray]:
    from sklearn.datasets import load_sample_images

    images = load_sample_images().images  # china.jpg and flower.jpg
    return [image[y : y + 240, x : x + 240] for image in images for (y, x) in [(0, 0), (150, 200)]]


def test_efficientnet_has_18_blocks_and_its_split_forward_is_exact(effnet, photos):
    encoder = copy.deepcopy(effnet)
    reference = encoder.embed(photos)
    batch = encoder.preprocess(photos)
    for count in (0, 3, 18):
        plan = plan_blocks(encoder, count)
        assert plan.names[0] == "stem" and plan.names[-1] == "head" and len(plan.names) == 18
        cached = plan.prefix(batch)
        np.testing.assert_allclose(plan.suffix(cached).detach().numpy(), reference, atol=1e-5)
    plan = plan_blocks(encoder, 3)
    assert plan.trained_names == ["blocks.14", "blocks.15", "head"]
    assert tuple(plan.prefix(batch).shape) == (4, 192, 7, 7)  # after blocks.13, 224-px input
    assert sorted(plan.tensor_names(plan.names)) == sorted(encoder.module.state_dict())
    trained = {id(p) for p in plan.parameters()}
    for parameter in encoder.module.parameters():
        assert parameter.requires_grad == (id(parameter) in trained)


def test_frozen_blocks_keep_weights_and_batchnorm_statistics_while_the_rest_trains(effnet, photos):
    encoder = copy.deepcopy(effnet)
    plan = plan_blocks(encoder, 2)
    before = {k: v.clone() for k, v in encoder.module.state_dict().items()}
    frozen_names = set(plan.tensor_names(plan.names[:-2]))
    encoder.module.train()  # directly, not through the plan: frozen blocks still stay in eval
    net = encoder.module.network
    assert not net._blocks[0].training and not net._bn0.training
    assert net._blocks[15].training and net._bn1.training
    optimizer = torch.optim.SGD(plan.parameters(), lr=0.1)
    loss = plan.forward(encoder.preprocess(photos)).pow(2).mean()
    loss.backward()
    optimizer.step()
    after = encoder.module.state_dict()
    for name, value in before.items():
        if name in frozen_names:
            assert torch.equal(after[name], value), name
    assert not torch.equal(after["network._bn1.running_mean"], before["network._bn1.running_mean"])
    assert not torch.equal(after["network._conv_head.weight"], before["network._conv_head.weight"])
    plan.freeze()
    assert not encoder.module.training
    assert not any(p.requires_grad for p in encoder.module.parameters())


def test_train_blocks_beyond_the_depth_names_the_range(effnet):
    encoder = copy.deepcopy(effnet)
    with pytest.raises(InputError, match=r"this encoder has 18 blocks.*must be 0\.\.18 or all"):
        plan_blocks(encoder, 19)
    for bad in (-1, "many", 2.5, True):
        with pytest.raises(InputError, match=r"0\.\.18 or all"):
            plan_blocks(encoder, bad)
    assert plan_blocks(encoder, "all").train_blocks == 18
    assert plan_blocks(encoder, "4").train_blocks == 4


def test_text_blocks_split_exactly_and_cached_states_can_be_regrouped(minilm):
    encoder = copy.deepcopy(minilm)
    reference = encoder.embed(TEXTS)
    plan = plan_blocks(encoder, 2)
    assert plan.names == ["embeddings", *[f"layer.{i}" for i in range(6)]]
    states = [plan.prefix(encoder.preprocess([text])) for text in TEXTS]  # three lengths
    assert all(isinstance(s, TokenStates) and s.hidden.shape[-1] == 384 for s in states)
    cache = TokenStates.concat(states)  # padded to the longest: masked as tokenizer padding is
    out = plan.suffix(cache.select([2, 0, 1])).detach().numpy()
    np.testing.assert_allclose(out, reference[[2, 0, 1]], atol=1e-5)
    everything = plan_blocks(encoder, "all")
    np.testing.assert_allclose(
        everything.forward(encoder.preprocess(TEXTS)).detach().numpy(), reference, atol=1e-5
    )
    unowned = set(encoder.module.state_dict()) - set(plan.tensor_names(plan.names))
    assert all(".pooler." in name for name in unowned)  # unused by mean pooling: never trained
    with pytest.raises(InputError, match=r"7 blocks.*0\.\.7 or all"):
        plan_blocks(encoder, 8)


@pytest.mark.parametrize(
    ("arch", "side", "names", "dim"),
    [
        ("resnet18", 64, ["stem", "layer1", "layer2", "layer3", "layer4"], 512),
        ("vgg11_bn", 64, ["conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7"], 4096),
        ("inception_v3", 299, ["stem", "Mixed_5b", "Mixed_7c"], 2048),
    ],
)
def test_torchvision_blocks_reproduce_the_network(arch, side, names, dim):
    torch.manual_seed(0)
    module = build_torchvision(arch).eval()
    x = torch.randn(2, 3, side, side)
    with torch.no_grad():
        reference = module(x)
    plan = plan_blocks(module, 2)
    assert [n for n in plan.names if n in names] == names and reference.shape == (2, dim)
    with torch.no_grad():
        torch.testing.assert_close(plan.forward(x), reference, rtol=0, atol=1e-5)
    owned = plan.tensor_names(plan.names)  # every tensor belongs to exactly one block
    assert sorted(owned) == sorted(module.state_dict()) and len(set(owned)) == len(owned)
    module.train()  # frozen blocks' layers (the registered ones) stay in eval
    frozen = [m for block in plan.frozen for owner in block.modules for m in owner.modules()]
    trained = [m for block in plan.trained for owner in block.modules for m in owner.modules()]
    assert not any(m.training for m in frozen) and all(m.training for m in trained)


def test_fewshot_backbones_split_on_their_stages():
    torch.manual_seed(0)
    x = torch.randn(3, 1, 28, 28)
    networks = [Conv4(1, 8, 28), ResNet12(1, (4, 4, 8, 8))]
    networks.append(Projected("conv4", {"in_channels": 1, "hidden": 8, "image_size": 28}, 8, 5))
    for network in networks:
        network.eval()
        with torch.no_grad():
            reference = network(x)
        plan = plan_blocks(network, 1)
        with torch.no_grad():
            torch.testing.assert_close(plan.forward(x), reference)
    assert plan.names == ["stage1", "stage2", "stage3", "stage4", "projection"]
    assert [b.name for b in network_blocks(torch.nn.Linear(3, 2))] == ["network"]
