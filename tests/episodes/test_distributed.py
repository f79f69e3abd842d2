"""Training under torchrun: two CPU processes train one network (identical parameters on both
ranks, distinct episodes), exactly as one process averaging the same episodes per step."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ALPHABETS = ["Greek", "Latin", "Braille"]


def arguments(omniglot_root: Path, cache_dir: Path, out: Path, *extra: str) -> list[str]:
    return [
        "train", "--data-root", str(omniglot_root), "--cache-dir", str(cache_dir),
        "--out", str(out), "--image-size", "28", "--ways", "5", "--shots", "1",
        "--queries", "2", "--episodes", "8", "--val-every", "8", "--val-episodes", "5",
        "--val-ways", "5", "--seed", "3", "--device", "cpu", "--quiet", *extra,
    ]  # fmt: skip


def alphabets_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def run(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=300,
                            env=alphabets_env(), cwd=REPO)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]


def test_torchrun_two_processes_equal_one_process_averaging_two_episodes(
    omniglot_root, cache_dir, tmp_path
):
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent))
    launcher = [torchrun] if torchrun else [sys.executable, "-m", "torch.distributed.run"]
    # torchrun gives each process one thread: the single process gets one too, like for like
    subset = ["--threads", "1", "--alphabets", *ALPHABETS]
    two = tmp_path / "two"
    run([*launcher, "--standalone", "--nproc_per_node=2", "-m", "episodes",
         *arguments(omniglot_root, cache_dir, two, *subset)])  # fmt: skip
    one = tmp_path / "one"
    run([sys.executable, "-m", "episodes",
         *arguments(omniglot_root, cache_dir, one, *subset, "--episodes-per-step", "2")])  # fmt: skip
    distributed = json.loads((two / "summary.json").read_text())
    single = json.loads((one / "summary.json").read_text())
    assert distributed["world_size"] == 2 and single["world_size"] == 1
    assert distributed["episodes_per_step"] == single["episodes_per_step"] == 2
    ranks = distributed["ranks"]
    assert [rank["first_episode"] for rank in ranks] == [0, 1]  # distinct episodes
    assert ranks[0]["parameters_sha256"] == ranks[1]["parameters_sha256"]
    assert ranks[0]["parameters_sha256"] == single["ranks"][0]["parameters_sha256"]
    assert distributed["episodes_done"] == 8 and (two / "best" / "encoder.json").is_file()


def test_torchrun_trains_a_pretrained_encoder_on_a_csv_as_one_process_would(ticket_csv, tmp_path):
    """The whole transfer path under torchrun: MiniLM's last layer (dropout seeded per episode),
    a siamese head, DANN on unlabelled texts, a cached frozen prefix, data from a CSV."""
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent))
    launcher = [torchrun] if torchrun else [sys.executable, "-m", "torch.distributed.run"]
    common = [
        "train", "--data", str(ticket_csv), "--init", "minilm", "--train-blocks", "1",
        "--head", "siamese", "--target-data", str(ticket_csv), "--ways", "4", "--shots", "1",
        "--queries", "2", "--episodes", "4", "--val-every", "4", "--val-episodes", "3",
        "--seed", "3", "--threads", "1", "--quiet",
    ]  # fmt: skip
    two, one = tmp_path / "two", tmp_path / "one"
    run([*launcher, "--standalone", "--nproc_per_node=2", "-m", "episodes", *common,
         "--out", str(two)])  # fmt: skip
    run([sys.executable, "-m", "episodes", *common, "--out", str(one), "--episodes-per-step", "2"])
    distributed = json.loads((two / "summary.json").read_text())
    single = json.loads((one / "summary.json").read_text())
    assert distributed["world_size"] == 2 and distributed["cached_prefix"]
    hashes = {r["parameters_sha256"] for r in distributed["ranks"] + single["ranks"]}
    assert len(hashes) == 1  # both ranks, and one process averaging the same two episodes
    assert (two / "best" / "head.safetensors").is_file()
    assert json.loads((two / "best" / "encoder.json").read_text())["blocks"] == ["layer.5"]
