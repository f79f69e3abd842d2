"""Backbone shapes and the glyph preprocessing on real Omniglot PNGs."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from fewshot.data.omniglot import Omniglot
from fewshot.encoders import ImagePreprocess
from fewshot.encoders.backbones import Conv4, ResNet12, build_backbone
from fewshot.encoders.omniglot import ink, omniglot_preprocess


@pytest.mark.parametrize(("size", "dim"), [(28, 64), (105, 64 * 6 * 6)])
def test_conv4_output_sizes(size, dim):
    net = Conv4(1, 64, size)
    assert net.out_dim == dim
    out = net(torch.zeros(2, 1, size, size))
    assert out.shape == (2, dim)


def test_conv4_has_snell_layout():
    net = build_backbone("conv4")
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size) for c in convs] == [
        (1, 64, (3, 3)),
        *[(64, 64, (3, 3))] * 3,
    ]
    assert sum(isinstance(m, torch.nn.MaxPool2d) for m in net.modules()) == 4


def test_resnet12_pools_to_last_width_and_trains():
    net = ResNet12(1, (8, 16, 24, 32))
    x = torch.randn(3, 1, 28, 28)
    out = net(x)
    assert out.shape == (3, 32) and net.out_dim == 32
    out.sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    assert build_backbone("resnet12", in_channels=3).out_dim == 640


def test_bad_backbone_arguments():
    with pytest.raises(ValueError, match="image_size"):
        Conv4(image_size=8)
    with pytest.raises(ValueError, match="widths"):
        ResNet12(widths=(1, 2))
    with pytest.raises(ValueError, match="choose from"):
        build_backbone("vgg")


def test_glyph_preprocess_matches_the_omniglot_cache(omniglot_root, cache_dir):
    ds = Omniglot(omniglot_root, "evaluation", image_size=28, cache_dir=cache_dir)
    with zipfile.ZipFile(omniglot_root / "images_evaluation.zip") as zf:
        name = sorted(n for n in zf.namelist() if n.endswith(".png"))[0]
        pil = Image.open(io.BytesIO(zf.read(name)))
        pil.load()
    pre = omniglot_preprocess(28)
    assert isinstance(pre, ImagePreprocess)
    from_pil = pre([pil])
    from_cache = ink(torch.from_numpy(ds.images([0])))
    assert from_pil.shape == (1, 1, 28, 28)
    assert torch.equal(from_pil, from_cache)
    assert torch.equal(pre(list(ds.images([0, 1]))), ink(torch.from_numpy(ds.images([0, 1]))))
    # ink is 1, paper 0
    assert from_pil.max() > 0.9 and float(from_pil.median()) == 0.0
    assert torch.equal(pre([np.asarray(pil)]), from_pil)  # a bool array of the PNG
