"""The Omniglot protocols behind the README's tables: seeded settings, manifests, and the
committed CPU-trained Vinyals checkpoint scoring what its table says."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import fewshot
from episodes.evaluate import pixel_encoder
from episodes.protocols import PUBLISHED_VINYALS, VINYALS_SETTINGS, score_setting, setting_name
from fewshot.data.omniglot import Omniglot

REPO = Path(__file__).resolve().parents[2]
VINYALS_CPU_MODEL = REPO / "benchmarks" / "models" / "omniglot-vinyals-conv4-cpu"


@pytest.fixture(scope="module")
def vinyals_test(omniglot_root, cache_dir):
    return Omniglot(omniglot_root, "vinyals-test", image_size=28, cache_dir=cache_dir)


def test_settings_follow_the_published_table():
    names = [setting_name(w, s) for w, s in VINYALS_SETTINGS]
    assert names == ["5w1s", "5w5s", "20w1s", "20w5s"]
    assert all(list(numbers) == names for numbers in PUBLISHED_VINYALS.values())


def test_score_setting_is_seeded_and_a_manifest_replays_it(vinyals_test, tmp_path):
    pixels = pixel_encoder(28)
    first = score_setting(pixels, vinyals_test, "vinyals-test", 28, 5, 1, 5, 20, seed=3,
                          manifest=tmp_path / "m.json")  # fmt: skip
    again = score_setting(pixels, vinyals_test, "vinyals-test", 28, 5, 1, 5, 20, seed=3)
    replay = score_setting(pixels, vinyals_test, "vinyals-test", 28, 20, 5, 15, 999,
                           seed=99, manifest=tmp_path / "m.json")  # fmt: skip
    assert first["per_episode"] == again["per_episode"] == replay["per_episode"]
    protocol = replay["protocol"]
    assert (protocol["n_way"], protocol["k_shot"], protocol["q_query"]) == (5, 1, 5)
    assert protocol["split"] == "vinyals-test" and protocol["image_size"] == 28
    other = score_setting(pixels, vinyals_test, "vinyals-test", 28, 5, 1, 5, 20, seed=4)
    assert other["per_episode"] != first["per_episode"]


def test_committed_cpu_model_scores_what_its_table_says(vinyals_test):
    """The checkpoint behind the README's CPU row: its 20-way 1-shot score on the first 100
    of the table's seeded episodes is within sampling error of the 1000-episode figure."""
    results = json.loads((REPO / "benchmarks/results/omniglot_vinyals_cpu.json").read_text())
    table = results["results"]["20w1s"]["accuracy"]
    encoder = fewshot.load_encoder(VINYALS_CPU_MODEL)
    report = score_setting(encoder, vinyals_test, "vinyals-test", 28, 20, 1, 15, 100, seed=0)
    assert abs(report["accuracy"]["mean"] - table["mean"]) < 4 * report["accuracy"]["ci95"] / 1.96
    assert report["accuracy"]["mean"] > 0.93


def test_benchmark_prints_both_tables(omniglot_root, cache_dir, tmp_path):
    env = {**os.environ, "FEWSHOT_CACHE": str(cache_dir)}  # the session's decoded images
    out = subprocess.run(
        [sys.executable, str(REPO / "benchmarks/omniglot_tables.py"), "--episodes", "10",
         "--runs", "10", "--no-pixels", "--data-root", str(omniglot_root), "--name",
         str(tmp_path / "t")],
        capture_output=True, text=True, check=True, cwd=REPO, env=env,
    ).stdout  # fmt: skip
    assert "| Prototypical Networks (Snell et al. 2017) | 98.8 | 99.7 | 96.0 | 98.9 |" in out
    # Koch's siamese net, BPL and people were measured on Lake's drawer pairs only
    assert "| Koch et al. siamese net (the floor) | – | 92.0 |" in out
    saved = json.loads((tmp_path / "t.json").read_text())
    assert set(saved["vinyals"]["rows"]["ours"]) == {"5w1s", "5w5s", "20w1s", "20w5s"}
    within = saved["within_alphabet"]["rows"]["ours"]
    assert within["20w1s"]["protocol"]["within_group"] == 1.0
    assert within["20w1s-lake"]["protocol"]["protocol"] == "lake"
    assert within["20w1s-lake"]["accuracy"]["episodes"] == 10
