"""AdaBN: BatchNorm statistics of the chosen later blocks become the target inputs' averages; the
rest, and the caller's encoder, stay as they were; the result saves as a small checkpoint."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import fewshot
from fewshot.adapt import adabn
from fewshot.data.omniglot import Omniglot
from fewshot.encoders import network_blocks
from fewshot.errors import InputError


@pytest.fixture(scope="module")
def glyphs(omniglot_root, cache_dir) -> list[np.ndarray]:
    """40 handwritten characters (one alphabet of the background set): a new domain for ImageNet."""
    data = Omniglot(
        omniglot_root, "background", image_size=105, alphabets=["Greek"], cache_dir=cache_dir
    )
    return list(data.images(np.arange(0, 480, 12)))


def test_statistics_of_the_last_block_become_the_target_mean(effnet, glyphs):
    before = {k: v.clone() for k, v in effnet.module.state_dict().items()}
    adapted = adabn(effnet, glyphs, layers=1, batch_size=20)  # two equal batches
    x = effnet.move_batch(effnet.preprocess(glyphs))
    with torch.no_grad():
        for block in network_blocks(effnet.module)[:-1]:  # the untouched network to blocks.15
            x = block.run(x)
        target = effnet.module.network._conv_head(x).mean(dim=(0, 2, 3))
    state = adapted.module.state_dict()
    torch.testing.assert_close(state["network._bn1.running_mean"], target, rtol=1e-4, atol=1e-4)
    changed = [k for k, v in state.items() if not torch.equal(v, before[k])]
    assert sorted(changed) == [
        "network._bn1.num_batches_tracked",
        "network._bn1.running_mean",
        "network._bn1.running_var",
    ]
    assert all(torch.equal(v, before[k]) for k, v in effnet.module.state_dict().items())
    assert adapted.spec["finetuned"] == {"method": "adabn", "layers": 1, "inputs": 40}
    assert not adapted.module.training


def test_adapted_encoder_saves_only_its_statistics(tmp_path, effnet, glyphs):
    adapted = adabn(effnet, glyphs, layers=3)
    clf = fewshot.FewShotClassifier(adapted)
    clf.register_many({"a": glyphs[:3], "b": glyphs[3:6]})
    clf.save(tmp_path / "store")
    loaded = fewshot.FewShotClassifier.load(tmp_path / "store")
    np.testing.assert_allclose(
        loaded.query(glyphs[6:9]).scores, clf.query(glyphs[6:9]).scores, atol=1e-4
    )
    encoder_dir = next((tmp_path / "store").glob("snapshot-*/encoder"))
    config = json.loads((encoder_dir / "encoder.json").read_text())
    assert config["blocks"] == ["blocks.14", "blocks.15", "head"]
    assert (encoder_dir / "model.safetensors").stat().st_size < 100_000  # BN buffers only


def test_bad_adabn_calls_name_the_fix(effnet, minilm, glyphs):
    with pytest.raises(InputError, match=r"0\.\.18 or all"):
        adabn(effnet, glyphs, layers=19)
    with pytest.raises(InputError, match="at least 2"):
        adabn(effnet, glyphs[:1])
    with pytest.raises(InputError, match="no BatchNorm"):
        adabn(minilm, ["a sentence", "another one"])  # LayerNorm only
