"""``evaluate_data`` and ``fewshot evaluate --data`` on real data: an image folder of Omniglot
PNGs, CLINC150 text rows, class splits, Lake's protocol, and the errors a user meets."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from episodes.cli import main
from episodes.evaluate import embed_indices, pixel_encoder
from episodes.evaluate_data import evaluate_data
from episodes.head_files import save_head
from episodes.manifest import load_manifest
from fewshot.data import ClassSplits, load_dataset
from fewshot.errors import InputError
from fewshot.heads import SiameseHead

REPO = Path(__file__).resolve().parents[2]
CHECKPOINT = REPO / "benchmarks" / "models" / "omniglot-vinyals-conv4-cpu"


def test_image_folder_with_a_class_split(glyph_folder, tmp_path):
    full = evaluate_data(glyph_folder, "pixels", n_way=5, k_shot=1, q_query=5, n_episodes=20)
    assert 0.2 < full["accuracy"]["mean"] <= 1.0 and full["protocol"]["data"]["classes"] == 8
    names = load_dataset(glyph_folder).class_names
    ClassSplits(tuple(names[:4]), (), tuple(names[4:])).save(tmp_path / "classes.json")
    novel = evaluate_data(
        glyph_folder, "pixels", n_way=4, k_shot=1, q_query=5, n_episodes=10, transform="cl2n",
        classes=tmp_path / "classes.json", class_split="novel", manifest=tmp_path / "m.json",
    )  # fmt: skip
    assert novel["protocol"]["class_split"] == "novel"
    assert novel["protocol"]["transform"]["type"] == "cl2n"  # fitted on the base side
    episodes, header = load_manifest(tmp_path / "m.json")
    assert header["dataset"]["classes"] == 4 and {e.n_way for e in episodes} == {4}


def test_text_rows_within_domains_transductively(minilm, shared_data):
    report = evaluate_data(
        "clinc150:test", minilm, root=shared_data, n_way=5, k_shot=1, q_query=5,
        n_episodes=10, within_group=True, transductive="bdcspn",
    )  # fmt: skip
    p = report["protocol"]
    assert p["data"]["dataset"] == "clinc150" and p["split"] == "test" and p["within_group"] == 1.0
    assert report["accuracy"]["mean"] > 0.5


def test_wrong_encoder_and_short_classes_are_named(glyph_folder, shared_data, tmp_path):
    with pytest.raises(InputError, match="holds texts but encoder 'pixels' embeds images"):
        evaluate_data("clinc150:test", pixel_encoder(28), root=shared_data, n_way=5,
                      k_shot=1, q_query=5, n_episodes=2)  # fmt: skip
    with pytest.raises(InputError, match="--encoder pixels reads images"):
        evaluate_data("banking77:test", "pixels", root=shared_data)
    with pytest.raises(InputError, match=r"character01. has 20.*lower the shots or queries"):
        evaluate_data(glyph_folder, "pixels", n_way=5, k_shot=5, q_query=16, n_episodes=2)
    with pytest.raises(InputError, match="--head-weights"):
        evaluate_data(glyph_folder, "pixels", head="siamese")


def test_cli_scores_a_folder_and_writes_the_report(glyph_folder, tmp_path, capsys):
    save_head(SiameseHead(784), tmp_path)
    argv = ["evaluate", "--data", str(glyph_folder), "--encoder", "pixels", "--ways", "5",
            "--shots", "1", "--queries", "5", "--episodes", "20", "--seed", "0",
            "--split-fractions", "0.25", "0.75", "--split", "novel"]  # fmt: skip
    assert main([*argv, "--out", str(tmp_path / "report.json")]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert set(report["accuracy"]) >= {"mean", "ci95"} and report["protocol"]["n_episodes"] == 20
    assert report["protocol"]["class_splits"]["novel"] == 6
    assert main([*argv, "--head", "siamese", "--head-weights", str(tmp_path)]) == 0
    assert main([*argv, "--head", "siamese"]) == 2
    out, err = capsys.readouterr()
    assert "head=siamese" in out and "--head-weights" in err
    # a checkpoint folder (what `fewshot train` leaves in RUN/best) as the encoder
    argv[argv.index("pixels")] = str(CHECKPOINT)
    assert main(argv) == 0 and "encoder=" in capsys.readouterr().out


def test_cli_lake_protocol_on_omniglot(omniglot_root, cache_dir, monkeypatch, capsys):
    monkeypatch.setenv("FEWSHOT_CACHE", str(cache_dir))
    argv = ["evaluate", "--encoder", "pixels", "--data-root", str(omniglot_root),
            "--image-size", "28", "--protocol", "lake", "--runs", "20", "--transductive", "cl2n"]  # fmt: skip
    assert main(argv) == 0
    line = capsys.readouterr().out.strip()
    assert "20-way 1-shot, 1 queries, E=20" in line and "protocol=lake" in line
    assert "transductive=cl2n" in line and np.isfinite(float(line.split(" ±")[0]))


def test_embedding_a_folder_in_batches_holds_one_batch_at_a_time(glyph_folder):
    data = load_dataset(
        glyph_folder, max_bytes=40 * 105 * 105
    )  # room for 13 decoded RGB glyph_folder
    encoder = pixel_encoder(28)
    whole = encoder.embed(data.inputs(np.arange(len(data))))
    chunked = embed_indices(encoder, data, np.arange(len(data)), batch_size=16)
    np.testing.assert_allclose(chunked, whole, rtol=1e-6)
    assert 0 < data.cache.nbytes <= 40 * 105 * 105
