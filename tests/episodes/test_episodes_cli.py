"""The train/evaluate subcommands, through what a user sees: ``--help``, the config a command
line becomes (defaults from TrainConfig / EVALUATION), refusals on stderr, and real runs.

(Named test_episodes_cli.py: tests/test_cli.py already holds the fewshot CLI's tests, and test
files need distinct names.)
"""

from __future__ import annotations

import json

import pytest

from episodes.cli import build_parser, main, train_config
from episodes.config import EVALUATION, TrainConfig
from episodes.evaluate_cli import data_arguments
from fewshot.encoders import load_encoder

TRAIN_FLAGS = [
    "--data-root", "--download", "--out", "--split", "--val-split", "--holdout-drawers",
    "--val-alphabets", "--image-size", "--no-rotations", "--backbone", "--hidden", "--widths",
    "--metric", "--init", "--freeze-stages", "--projection", "--ways", "--shots", "--queries",
    "--episodes", "--lr", "--lr-step", "--lr-gamma", "--within-alphabet", "--no-augment",
    "--val-ways", "--val-shots", "--val-queries", "--val-episodes", "--val-every", "--val-across",
    "--seed", "--device", "--threads", "--no-amp", "--max-minutes", "--stop-at", "--resume",
    "--cache-dir", "--quiet",
]  # fmt: skip


def help_text(command: str, capsys) -> str:
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    assert done.value.code == 0
    return " ".join(capsys.readouterr().out.split())  # argparse wraps lines; join them


def test_train_help_lists_every_flag_with_the_dataclass_defaults(capsys):
    text = help_text("train", capsys)
    for flag in TRAIN_FLAGS:
        assert f" {flag}" in text, flag
    d = TrainConfig(data_root="", out="")
    for shown in (f"classes per training episode (default: {d.n_way})",
                  f"the same way (default: {d.episodes})", "(default: 1e-4 when layers of",
                  f"validate every this many episodes (default: {d.val_every})",
                  "--metric {cosine,euclidean}", "(default: cosine with a learnable scale for a pre-trained"):  # fmt: skip
        assert shown in text, shown


def test_a_bare_command_line_is_the_default_config(tmp_path):
    args = build_parser().parse_args(["train", "--out", "run", "--data-root", str(tmp_path)])
    assert train_config(args) == TrainConfig(data_root=str(tmp_path), out="run")


def test_every_flag_reaches_its_config_field(tmp_path):
    argv = [
        "train", "--out", "run", "--data-root", str(tmp_path), "--download",
        "--split", "vinyals-train", "--val-split", "vinyals-val", "--holdout-drawers", "3",
        "--image-size", "56", "--no-rotations", "--backbone", "resnet12",
        "--widths", "8", "8", "8", "8", "--metric", "sqeuclidean", "--init", "omniglot-conv4",
        "--projection", "16", "--ways", "7", "--shots", "2", "--queries", "4",
        "--episodes", "99", "--lr", "0.01", "--lr-step", "33", "--lr-gamma", "0.1",
        "--within-alphabet", "0.25", "--no-augment", "--val-ways", "6", "--val-shots", "3",
        "--val-queries", "2", "--val-episodes", "11", "--val-every", "9", "--val-across",
        "--seed", "5", "--device", "cpu", "--threads", "1", "--no-amp", "--max-minutes", "1.5",
        "--stop-at", "50", "--cache-dir", str(tmp_path / "cache"),
    ]  # fmt: skip
    config = train_config(build_parser().parse_args(argv))
    assert config == TrainConfig(
        data_root=str(tmp_path), out="run", download=True, split="vinyals-train",
        val_split="vinyals-val", holdout_drawers=3, image_size=56, rotations=False,
        backbone="resnet12", backbone_kwargs={"widths": [8, 8, 8, 8]}, metric="euclidean",
        init="omniglot-conv4", projection=16, n_way=7, k_shot=2, q_query=4, episodes=99,
        lr=0.01, lr_step=33, lr_gamma=0.1, within_alphabet=0.25, augment=False, val_way=6,
        val_shot=3, val_query=2, val_episodes=11, val_every=9, val_within_alphabet=False,
        seed=5, device="cpu", threads=1, amp=False, max_minutes=1.5, stop_at=50,
        cache_dir=str(tmp_path / "cache"),
    )  # fmt: skip
    hidden = build_parser().parse_args(["train", "--out", "r", "--data-root", "d", "--hidden", "8"])
    assert train_config(hidden).backbone_kwargs == {"hidden": 8}
    args = build_parser().parse_args(["train", "--out", "r", "--resume", "--quiet"])
    assert args.resume and args.quiet


def test_evaluate_defaults_are_the_shared_ones():
    args = build_parser().parse_args(["evaluate", "--encoder", "pixels"])
    e = EVALUATION
    # --split and --image-size depend on the data: without --data, Omniglot's defaults
    # (the image size is resolved by prepare_data: 105 for Omniglot, native for folders)
    assert data_arguments(args)["split"] == e.split and args.image_size is None
    assert (args.ways, args.shots, args.protocol, args.runs) == (
        [e.n_way], [e.k_shot], e.protocol, e.lake_runs,
    )  # fmt: skip
    assert (args.head, args.transductive, args.siamese_reduce) == (
        e.head, e.transductive, e.siamese_reduce,
    )  # fmt: skip
    assert (args.queries, args.episodes, args.seed, args.metric) == (
        e.q_query,
        e.n_episodes,
        e.seed,
        e.metric,
    )
    assert (args.transform, args.cl2n_split, args.batch_size) == (
        e.transform,
        e.cl2n_split,
        e.batch_size,
    )


def test_unknown_metric_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as done:
        main(["evaluate", "--encoder", "pixels", "--metric", "manhattan"])
    assert done.value.code == 2 and "invalid choice: 'manhattan'" in capsys.readouterr().err


def test_refused_settings_are_one_line_on_stderr(tmp_path, capsys):
    argv = ["train", "--out", str(tmp_path / "run"), "--data-root", str(tmp_path),
            "--holdout-drawers", "0"]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("python -m episodes train: error: train: holdout_drawers")
    assert "--holdout-drawers" in err and "\n" not in err


def test_tiny_train_run_prints_its_summary(omniglot_root, cache_dir, tmp_path, capsys):
    argv = [
        "train", "--out", str(tmp_path / "run"), "--data-root", str(omniglot_root),
        "--cache-dir", str(cache_dir), "--split", "background", "--ways", "5", "--queries", "2",
        "--episodes", "2", "--val-ways", "5", "--val-episodes", "2", "--val-every", "2",
        "--hidden", "8", "--device", "cpu", "--threads", "2", "--quiet",
    ]  # fmt: skip
    assert main(argv) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    summary = json.loads(lines[-1])
    assert summary["episodes_done"] == 2 and summary["device"] == "cpu"
    assert "history" not in summary  # printed without it; summary.json keeps it
    assert load_encoder(tmp_path / "run" / "best").dim == 8


def test_evaluate_pixels_writes_reports_and_manifests(
    omniglot_root, cache_dir, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("FEWSHOT_CACHE", str(cache_dir))
    argv = [
        "evaluate", "--encoder", "pixels", "--data-root", str(omniglot_root), "--split",
        "evaluation", "--image-size", "28", "--ways", "5", "10", "--shots", "1",
        "--queries", "3", "--episodes", "20", "--within-alphabet", "--device", "cpu",
        "--manifest", str(tmp_path / "m.json"), "--out", str(tmp_path / "r.json"),
    ]  # fmt: skip
    assert main(argv) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and "5-way 1-shot" in lines[0] and "E=20" in lines[0]
    report = json.loads((tmp_path / "r-5w1s.json").read_text())
    assert report["protocol"]["within_group"] == 1.0
    assert report["protocol"]["head"]["metric"] == "euclidean"
    assert (tmp_path / "r-10w1s.png").is_file() and (tmp_path / "m-10w1s.json").is_file()
    # a second run reads the manifests and reproduces the scores exactly
    assert main(argv) == 0
    again = json.loads((tmp_path / "r-5w1s.json").read_text())
    assert again["per_episode"] == report["per_episode"]
