"""The train/evaluate subcommands: every option documented, and a real evaluate run."""

from __future__ import annotations

import argparse
import json

from episodes.cli import add_evaluate_command, add_train_command, main


def test_every_option_has_help_and_a_handler():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    for add in (add_train_command, add_evaluate_command):
        p = add(sub)
        assert callable(p.get_default("func"))
        for action in p._actions:
            if action.dest != "help":
                assert action.help, f"{p.prog}: option {action.option_strings} has no help"
    argv = ["train", "--out", "x", "--backbone", "resnet12", "--widths", "8", "8", "8", "8"]
    args = parser.parse_args(argv)
    assert args.widths == [8, 8, 8, 8] and args.ways == 60


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
    assert (tmp_path / "r-10w1s.png").is_file() and (tmp_path / "m-10w1s.json").is_file()
    # a second run reads the manifests and reproduces the scores exactly
    assert main(argv) == 0
    again = json.loads((tmp_path / "r-5w1s.json").read_text())
    assert again["per_episode"] == report["per_episode"]
