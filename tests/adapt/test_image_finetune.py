"""finetune() for image encoders: later blocks trained on the registered images with augmentation,
seeded, saved as a partial checkpoint; images not kept are passed with examples=; bad input
changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import fewshot
from fewshot.adapt import ImageFinetuneReport, augmentation, finetune_image_encoder
from fewshot.data.omniglot import Omniglot
from fewshot.errors import InputError

FAST = {"train_blocks": 2, "epochs": 3, "batch_size": 16, "lr": 1e-3, "progress": False}


@pytest.fixture(scope="module")
def characters(omniglot_root, cache_dir, tmp_path_factory) -> dict:
    """Five Kannada characters: 4 drawers' images saved as PNG files (registered by path), and
    the other 16 drawers' images as arrays for queries."""
    data = Omniglot(omniglot_root, "evaluation", 105, alphabets=["Kannada"], cache_dir=cache_dir)
    folder = tmp_path_factory.mktemp("glyphs")
    paths, arrays, queries = {}, {}, []
    for c in range(5):
        images = data.images(np.flatnonzero(data.labels == c))
        label = data.class_names[c]
        arrays[label] = list(images[:4])
        paths[label] = []
        for i, image in enumerate(images[:4]):
            Image.fromarray(image).save(folder / f"{c}-{i}.png")
            paths[label].append(str(folder / f"{c}-{i}.png"))
        queries += [(image, label) for image in images[4:]]
    return {"paths": paths, "arrays": arrays, "queries": queries}


def accuracy(clf: fewshot.FewShotClassifier, queries: list) -> float:
    predicted = clf.predict([image for image, _ in queries])
    return float(np.mean([p == label for p, (_, label) in zip(predicted, queries)]))


@pytest.fixture(scope="module")
def conv4() -> fewshot.TorchEncoder:
    return fewshot.load_encoder("omniglot-conv4")


def test_paths_are_kept_so_auto_finetunes_the_later_blocks(tmp_path, conv4, characters):
    clf = fewshot.FewShotClassifier(conv4, threshold=0.5)
    clf.register_many(characters["paths"])
    frozen = accuracy(clf, characters["queries"])
    report = clf.finetune(augment="affine", **FAST)
    assert isinstance(report, ImageFinetuneReport) and report.blocks == ["stage3", "stage4"]
    assert report.examples == 20 and report.steps == 6 and not report.cached_prefix
    assert clf.encoder is not conv4 and clf.threshold is None and "finetuned" in clf.encoder.spec
    assert "finetuned" not in conv4.spec and not any(
        p.requires_grad for p in conv4.module.parameters()
    )
    assert accuracy(clf, characters["queries"]) >= frozen - 0.05
    again = fewshot.FewShotClassifier(conv4)
    again.register_many(characters["paths"])
    again.finetune(augment="affine", **FAST)
    probe = [image for image, _ in characters["queries"][:8]]
    np.testing.assert_allclose(again.encoder.embed(probe), clf.encoder.embed(probe), atol=1e-5)
    clf.save(tmp_path / "store")
    loaded = fewshot.FewShotClassifier.load(tmp_path / "store")
    assert loaded.predict(probe) == clf.predict(probe)
    config = json.loads(
        next((tmp_path / "store").glob("snapshot-*/encoder/encoder.json")).read_text()
    )
    assert config["base"] == {"name": "omniglot-conv4"} and config["blocks"] == ["stage3", "stage4"]


def test_images_not_kept_are_passed_with_examples(conv4, characters):
    clf = fewshot.FewShotClassifier(conv4, threshold=0.4)
    clf.register_many(characters["arrays"])
    shots = clf.shots(clf.labels[0]).copy()
    with pytest.raises(InputError, match=r"finetune\(examples="):
        clf.finetune(part="encoder", **FAST)
    short = {label: images[:3] for label, images in characters["arrays"].items()}
    with pytest.raises(InputError, match="4 registered shots but 3"):
        clf.finetune(examples=short, **FAST)
    with pytest.raises(InputError, match=r"unknown option.*'layers'"):
        clf.finetune(part="encoder", examples=characters["arrays"], layers=2)
    with pytest.raises(InputError, match=r"0\.\.4 or all"):
        clf.finetune(examples=characters["arrays"], **{**FAST, "train_blocks": 5})
    assert clf.encoder is conv4 and clf.threshold == 0.4 and clf.head is None
    np.testing.assert_array_equal(clf.shots(clf.labels[0]), shots)
    report = clf.finetune(examples=characters["arrays"], augment="none", **FAST)
    assert report.cached_prefix and clf.encoder is not conv4  # nothing random below the blocks
    clf.finetune(episodes=10, progress=False)  # auto: arrays are still not kept, so the head
    assert clf.head is not None


def test_efficientnet_later_blocks_learn_from_photographs(effnet):
    from sklearn.datasets import load_sample_images

    china, flower = load_sample_images().images
    examples = {
        "temple": [china[:200, :200], china[50:250, 100:300]],
        "flower": [flower[:200, :200], flower[100:300, 200:400]],
    }
    tuned, report = finetune_image_encoder(
        effnet, examples, train_blocks=1, epochs=2, batch_size=4, augment="natural", progress=False
    )
    assert report.blocks == ["head"] and report.augment == "natural" and report.steps == 2
    changed = [
        name
        for name, value in tuned.module.state_dict().items()
        if not torch.equal(value, effnet.module.state_dict()[name])
    ]
    assert changed and all(n.startswith(("network._conv_head", "network._bn1")) for n in changed)
    assert all(not n.endswith(("running_mean", "running_var")) for n in changed)  # BN fixed


def test_augmentations_keep_shape_and_follow_the_seed():
    torch.manual_seed(0)
    paper = torch.full((2, 3, 32, 32), 1.5)
    paper[:, :, 12:20, 12:20] = -1.0  # a dark stroke on light paper
    for recipe in ("natural", "affine", "none"):
        torch.manual_seed(1)
        first = augmentation(recipe)(paper)
        torch.manual_seed(1)
        assert torch.equal(first, augmentation(recipe)(paper)) and first.shape == paper.shape
    torch.manual_seed(2)
    moved = augmentation("affine")(paper)
    assert moved.max() <= 1.5 + 1e-5 and (moved[:, :, :2, :] > 1.4).all()  # border stays paper
    with pytest.raises(InputError, match="augment must be one of"):
        augmentation("sepia")


def test_finetune_images_needs_two_labels(tmp_path: Path, conv4, characters):
    one = dict(list(characters["arrays"].items())[:1])
    with pytest.raises(InputError, match="at least two registered labels"):
        finetune_image_encoder(conv4, one, progress=False)
