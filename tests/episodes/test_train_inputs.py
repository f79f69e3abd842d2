"""What the network reads in training: Omniglot batches exactly as the older loop made them
(augmentation included), image folders resident or decoded per batch alike, seeded crops and
flips for photos, and the cache of the frozen blocks' output equal to running them."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from episodes.augment import random_affine, random_crop_flip
from episodes.images import DeviceImages
from episodes.inputs import FeedOptions, ImageFeeder, TextFeeder, image_input, looks_drawn
from episodes.prefix_cache import Activations, PrefixCache
from fewshot.data import FewShotDataset, Omniglot, load_dataset
from fewshot.encoders import ImagePreprocess, plan_blocks
from fewshot.encoders.omniglot import omniglot_preprocess

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def greek(omniglot_root, cache_dir):
    return Omniglot(omniglot_root, "background", alphabets=["Greek"], cache_dir=cache_dir,
                    rotations=(0, 90))  # fmt: skip


def test_omniglot_batches_equal_the_older_loop_bit_for_bit(greek):
    feeder = ImageFeeder(greek, np.arange(len(greek)), omniglot_preprocess(28),
                         FeedOptions(CPU, recipe="affine"), "greek")  # fmt: skip
    picks = np.r_[0:5, len(greek) - 5 : len(greek)]  # unrotated and rotated classes
    older = DeviceImages(greek, CPU).batch(picks)
    assert torch.equal(feeder.batch(picks), older.contiguous(memory_format=torch.channels_last))
    seeded = feeder.batch(picks, torch.Generator().manual_seed(7))
    assert torch.equal(seeded, random_affine(older, torch.Generator().manual_seed(7)))


def test_a_folder_resident_or_decoded_per_batch_gives_the_same_images(glyph_folder):
    data = load_dataset(glyph_folder)
    prep = ImagePreprocess(size=32, resize=32, mode="RGB")
    everything = np.arange(len(data))
    resident = ImageFeeder(data, everything, prep, FeedOptions(CPU), "glyphs")
    lines: list[str] = []
    lazy = ImageFeeder(data, everything, prep, FeedOptions(CPU, budget=1000, log=lines.append),
                       "glyphs")  # fmt: skip
    assert resident.bank is not None and lazy.bank is None and "--memory-mb" in lines[0]
    picks = np.array([3, 40, 41, 150])
    assert resident.raw(picks).shape == (4, 3, 32, 32)
    assert torch.equal(resident.raw(picks), lazy.raw(picks))
    assert looks_drawn(resident, everything)
    noise = np.random.default_rng(0).integers(0, 256, (6, 40, 40, 3), dtype=np.uint8)
    photos = FewShotDataset(list(noise), [0, 0, 0, 1, 1, 1], ["a", "b"], kind="image")
    assert not looks_drawn(ImageFeeder(photos, np.arange(6), prep, FeedOptions(CPU), "p"),
                           np.arange(6))  # fmt: skip


def test_crops_and_flips_are_seeded_and_keep_the_shape():
    x = torch.rand(4, 3, 16, 16)
    a = random_crop_flip(x, torch.Generator().manual_seed(1))
    assert a.shape == x.shape and torch.equal(
        a, random_crop_flip(x, torch.Generator().manual_seed(1))
    )
    assert not torch.equal(a, random_crop_flip(x, torch.Generator().manual_seed(2)))
    flipped = random_crop_flip(x, torch.Generator().manual_seed(0), area=(1, 1), ratio=(1, 1),
                               flip=1.0)  # fmt: skip
    torch.testing.assert_close(flipped, x.flip(-1), atol=1e-5, rtol=0)


def test_normalising_follows_the_preprocessing():
    raw = torch.full((1, 1, 2, 2), 255, dtype=torch.uint8)
    prep = ImagePreprocess(size=2, resize=2, mode="RGB", mean=(0.5,) * 3, std=(0.25,) * 3)
    x = image_input(raw, prep, channels_last=False)
    assert x.shape == (1, 3, 2, 2) and torch.allclose(x, torch.full_like(x, 2.0))


def test_cached_image_activations_equal_the_frozen_blocks(effnet, glyph_folder):
    encoder = copy.deepcopy(effnet)
    encoder.preprocess = prep = ImagePreprocess(32, 32, "RGB", (0.5,) * 3, (0.5,) * 3)
    plan = plan_blocks(encoder, 2)
    data = load_dataset(glyph_folder)
    feeder = ImageFeeder(data, np.arange(40), prep, FeedOptions(CPU), "glyphs")
    cache = PrefixCache(np.arange(40), len(data), 2**30, print, "glyphs")
    cached, direct = Activations(feeder, plan, cache), Activations(feeder, plan, None)
    picks = np.array([5, 1, 5, 30])
    first = cached(picks)
    assert cache.filled.sum() == 32 and first.shape[0] == 4  # their fixed block of 32, once
    torch.testing.assert_close(first, direct(picks), atol=2e-3, rtol=2e-3)  # stored in float16
    torch.testing.assert_close(cached(picks), first, atol=0, rtol=0)
    # asked in another order and other company, every item is stored bit for bit the same
    other = PrefixCache(np.arange(40), len(data), 2**30, print, "glyphs")
    Activations(feeder, plan, other)(np.array([31, 39]))
    assert other.filled.sum() == 40
    torch.testing.assert_close(Activations(feeder, plan, other)(picks), first, atol=0, rtol=0)


def test_cached_text_states_give_the_same_embeddings(minilm, ticket_csv):
    encoder = copy.deepcopy(minilm)
    plan = plan_blocks(encoder, 1)
    data = load_dataset(ticket_csv)
    feeder = TextFeeder(data, encoder.preprocess)
    cache = PrefixCache(np.arange(len(data)), len(data), 2**30, print, "tickets")
    picks = np.array([0, 13, 50, 13])
    cached = plan.suffix(Activations(feeder, plan, cache)(picks))
    direct = plan.suffix(Activations(feeder, plan, None)(picks))
    cosine = torch.nn.functional.cosine_similarity(cached, direct)
    assert cached.shape == (4, 384) and bool((cosine > 0.9999).all())
