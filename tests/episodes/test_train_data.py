"""`fewshot train --data` on a user's own data, through what the user runs: the README's two
commands on a real image folder and on a real text CSV (RUN/best is a partial checkpoint that
`fewshot evaluate` scores), class splits that never read the novel classes, held-out
validation that adapts to small data with a log line, several tasks at once, and resume."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from episodes.cli import main
from episodes.config import TrainConfig
from episodes.tasks import load_tasks
from episodes.train import train
from fewshot.data import ClassSplits, load_dataset
from fewshot.encoders import load_encoder

SHAPE = ["--ways", "5", "--shots", "1", "--queries", "5"]


def design_train(data: Path, init: str, run: Path) -> list[str]:
    """The README's training command, word for word."""
    return ["train", "--data", str(data), "--init", init, "--train-blocks", "1", *SHAPE,
            "--episodes", "30", "--seed", "0", "--out", str(run)]  # fmt: skip


def design_evaluate(data: Path, run: Path, report: Path) -> list[str]:
    """The README's evaluation command, word for word."""
    return ["evaluate", "--data", str(data), "--encoder", str(run / "best"), *SHAPE,
            "--episodes", "60", "--seed", "0", "--out", str(report)]  # fmt: skip


def checkpoint_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.iterdir())


def test_design_commands_on_an_image_folder(glyph_folder, tmp_path, capsys):
    run, report = tmp_path / "RUN", tmp_path / "report.json"
    # 32 px keeps the test fast; without --image-size the encoder's own 224 px is used
    assert main([*design_train(glyph_folder, "efficientnet-lite0", run), "--image-size", "32",
                 "--val-episodes", "20", "--quiet"]) == 0  # fmt: skip
    err = capsys.readouterr().err
    assert "augmentation: affine (drawn, grayscale images)" in err
    assert "validation adapted to the data: 8-way 1-shot 3-query" in err  # 8 classes, 4 held out
    saved = json.loads((run / "best" / "encoder.json").read_text())
    assert saved["format_version"] == 2 and saved["base"] == {"name": "efficientnet-lite0"}
    summary = json.loads((run / "summary.json").read_text())
    trained = ["head"] if summary["best_episode"] else []  # the start itself may stay best
    assert saved["blocks"] == trained and saved["dtype"] == "float16"
    last = json.loads((run / "last" / "encoder.json").read_text())
    assert last["blocks"] == ["head"]  # RUN/last: as training left it
    assert saved["preprocess"]["size"] == 32 and checkpoint_bytes(run / "best") < 2_000_000
    assert load_encoder(run / "best").preprocess.size == 32  # evaluation sees what training saw
    resolved = json.loads((run / "config.json").read_text())
    assert resolved["lr"] == 1e-3 and resolved["metric"] == "cosine"  # pre-trained image blocks
    assert main(design_evaluate(glyph_folder, run, report)) == 0
    accuracy = json.loads(report.read_text())["accuracy"]
    assert 0.2 < accuracy["mean"] <= 1.0 and accuracy["episodes"] == 60


def test_design_commands_on_a_text_csv(ticket_csv, tmp_path, capsys):
    run, report = tmp_path / "RUN", tmp_path / "report.json"
    assert main([*design_train(ticket_csv, "minilm", run), "--val-episodes", "20", "--quiet"]) == 0
    out, err = capsys.readouterr()
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["cached_prefix"] and summary["trunk"]["trained"] == ["layer.5"]
    assert "their output is cached" in err and summary["episodes_done"] == 30
    saved = json.loads((run / "best" / "encoder.json").read_text())
    trained = ["layer.5"] if summary["best_episode"] else []  # the start itself may stay best
    assert saved["base"] == {"name": "minilm"} and saved["blocks"] == trained
    assert json.loads((run / "config.json").read_text())["lr"] == 1e-4  # text layers
    assert checkpoint_bytes(run / "best") < 5_000_000  # one layer in float16, not 90 MB
    assert main(design_evaluate(ticket_csv, run, report)) == 0
    assert 0.3 < json.loads(report.read_text())["accuracy"]["mean"] <= 1.0


def test_a_class_split_trains_on_base_and_never_reads_novel(glyph_folder):
    logged: list[str] = []
    config = TrainConfig(data_root="unused", out="unused", data=[str(glyph_folder)],
                         split_fractions=[0.5, 0.25, 0.25], n_way=3, k_shot=1, q_query=2,
                         episodes=10, val_episodes=5)  # fmt: skip
    (task,) = load_tasks(config, "L", logged.append)
    names = load_dataset(glyph_folder).class_names
    splits = ClassSplits.from_fractions(names, (0.5, 0.25, 0.25), seed=0)

    def classes(source) -> set[str]:
        return {names[c] for c in source.dataset.labels[source.positions]}

    assert classes(task.training) == set(splits.base)
    assert classes(task.validation) == set(splits.val) and not classes(task.validation) & set(
        splits.novel
    )
    assert task.info["val_shape"]["n_way"] == 2 and any("2-way" in line for line in logged)


def test_held_out_examples_of_every_class_validate_without_a_split(ticket_csv):
    logged: list[str] = []
    config = TrainConfig(data_root="unused", out="unused", data=[str(ticket_csv)], n_way=5,
                         k_shot=1, q_query=5, episodes=4, val_episodes=3)  # fmt: skip
    (task,) = load_tasks(config, "RGB", logged.append)
    train_rows, val_rows = set(task.training.positions), set(task.validation.positions)
    assert not train_rows & val_rows and len(val_rows) == 8 * 2  # round(0.2 × 12) per class
    assert task.info["val_shape"] == {"n_way": 8, "k_shot": 1, "q_query": 1}
    assert "held-out examples (20% of each class" in task.info["validation"]
    assert logged and "asked 20-way 3-query" in logged[0]


def test_several_tasks_share_one_trunk_and_validate_apart(ticket_csv, intent_csv, tmp_path, capsys):
    argv = ["train", "--data", str(ticket_csv), "--data", str(intent_csv), "--init", "minilm",
            "--train-blocks", "0", *SHAPE, "--episodes", "6", "--val-every", "3",
            "--val-episodes", "5", "--seed", "0", "--out", str(tmp_path / "run"), "--quiet",
            "--task-sampling", "proportional", "--metric", "cosine"]  # fmt: skip
    assert main(argv) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert [set(r["val_acc_per_task"]) for r in lines[:-1]] == [{"tickets", "intents"}] * 3
    summary = lines[-1]
    assert set(summary["best_val_acc_per_task"]) == {"tickets", "intents"}
    assert summary["best_val_acc"] == np.mean(list(summary["best_val_acc_per_task"].values()))
    encoder = load_encoder(tmp_path / "run" / "best")  # one trunk: a projection on MiniLM
    assert encoder.dim == 384 and encoder.architecture == "projected"


def test_resume_continues_a_pretrained_run_exactly(ticket_csv, tmp_path):
    def config(out: Path, episodes: int) -> TrainConfig:
        return TrainConfig(data_root="unused", out=str(out), data=[str(ticket_csv)],
                           init="minilm", train_blocks=0, n_way=4, k_shot=1, q_query=3,
                           episodes=episodes, val_every=4, val_episodes=2, seed=1,
                           metric="cosine")  # fmt: skip

    train(config(tmp_path / "a", 8), progress=False)
    train(config(tmp_path / "b", 4), progress=False)
    summary = train(config(tmp_path / "b", 8), resume=True, progress=False)
    assert [h["episode"] for h in summary["history"]] == [0, 4, 8]
    a = load_file(str(tmp_path / "a" / "state" / "train_state.safetensors"))
    b = load_file(str(tmp_path / "b" / "state" / "train_state.safetensors"))
    assert a.keys() == b.keys() and any(k.startswith("head.projection") for k in a)
    assert not any(k.startswith("model.") for k in a)  # frozen MiniLM: rebuilt, never saved
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5, msg=key)


def test_a_pretrained_start_stays_best_when_training_only_hurts(ticket_csv, tmp_path, minilm):
    run = tmp_path / "run"
    argv = ["train", "--data", str(ticket_csv), "--init", "minilm", "--train-blocks", "1", *SHAPE,
            "--episodes", "4", "--val-every", "2", "--val-episodes", "10", "--seed", "0",
            "--lr", "0.5", "--out", str(run), "--quiet"]  # fmt: skip
    assert main(argv) == 0
    summary = json.loads((run / "summary.json").read_text())
    start, *trained = [h["val_acc"] for h in summary["history"]]
    assert summary["best_episode"] == 0 and summary["best_val_acc"] == start > max(trained)
    texts = ["my card was declined", "how do I top up", "where is my refund"]
    np.testing.assert_allclose(load_encoder(run / "best").embed(texts), minilm.embed(texts),
                               atol=1e-6)  # fmt: skip
    trained = load_encoder(run / "last").embed(texts)  # RUN/last: as training left it
    assert not np.allclose(trained, minilm.embed(texts), atol=1e-3)
