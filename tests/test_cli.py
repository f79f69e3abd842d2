"""The fewshot command: register, predict (JSON lines), remove, info, help and errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from fewshot import FewShotClassifier
from fewshot.cli import main


def run(capsys, *argv: str) -> tuple[int, list[dict], str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return code, lines, err


def test_text_store_register_predict_remove(tmp_path, capsys):
    store = str(tmp_path / "intents")
    code, lines, _ = run(
        capsys,
        "register",
        "--store",
        store,
        "--label",
        "greeting",
        "hello there",
        "good morning to you",
        "hi!",
    )
    assert code == 0 and lines == [{"store": store, "label": "greeting", "shots": 3, "classes": 1}]
    (tmp_path / "refunds.txt").write_text("I want my money back\nplease refund my order\n\n")
    code, lines, _ = run(
        capsys,
        "register",
        "--store",
        store,
        "--label",
        "refund",
        "--from-file",
        str(tmp_path / "refunds.txt"),
    )
    assert code == 0 and lines[0]["shots"] == 2 and lines[0]["classes"] == 2
    code, lines, _ = run(
        capsys, "predict", "--store", store, "-k", "2", "hey, how are you", "can I get a refund"
    )
    assert code == 0 and [line["label"] for line in lines] == ["greeting", "refund"]
    assert [item["label"] for item in lines[1]["top_k"]] == ["refund", "greeting"]
    code, lines, _ = run(
        capsys, "predict", "--store", store, "--threshold", "0.99", "what's the capital of peru"
    )
    assert lines[0]["label"] is None
    code, lines, _ = run(capsys, "remove", "--store", store, "--label", "refund")
    assert code == 0 and lines[0]["classes"] == 1
    code, lines, _ = run(capsys, "predict", "--store", store, "can I get a refund")
    assert code == 0 and lines[0]["label"] == "greeting"  # the only class left


def test_info_describes_the_store(tmp_path, capsys):
    store = str(tmp_path / "s")
    run(capsys, "register", "--store", store, "--label", "a", "apples")
    assert main(["info", "--store", store]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (
        info["encoder"] == {"name": "minilm"} and info["classes"] == {"a": 1} and info["dim"] == 384
    )


def test_feature_store_from_npy_files(tmp_path, capsys):
    store = str(tmp_path / "vectors")
    rng = np.random.default_rng(0)
    np.save(tmp_path / "a.npy", rng.normal(size=(3, 8)) + 5)
    np.save(tmp_path / "b.npy", rng.normal(size=(3, 8)) - 5)
    np.save(tmp_path / "q.npy", np.stack([np.full(8, 5.0), np.full(8, -5.0)]))
    run(
        capsys,
        "register",
        "--store",
        store,
        "--encoder",
        "features",
        "--label",
        "a",
        str(tmp_path / "a.npy"),
    )
    run(capsys, "register", "--store", store, "--label", "b", str(tmp_path / "b.npy"))
    code, lines, _ = run(capsys, "predict", "--store", store, str(tmp_path / "q.npy"))
    assert code == 0 and [line["label"] for line in lines] == ["a", "b"]


def test_errors_exit_2_with_a_message(tmp_path, capsys):
    code, _, err = run(capsys, "predict", "--store", str(tmp_path / "none"), "hello")
    assert code == 2 and "no store" in err
    store = str(tmp_path / "s")
    run(capsys, "register", "--store", store, "--label", "a", "apples")
    code, _, err = run(capsys, "remove", "--store", store, "--label", "zebra")
    assert code == 2 and "'zebra' is not registered" in err
    code, _, err = run(capsys, "predict", "--store", store)
    assert code == 2 and "no inputs" in err


def test_help_explains_every_option():
    result = subprocess.run(
        [sys.executable, "-m", "fewshot", "register", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    for option in (
        "--store",
        "--label",
        "--encoder",
        "--metric",
        "--mode",
        "--threshold",
        "--from-file",
    ):
        assert option in result.stdout
    top = subprocess.run(
        [sys.executable, "-m", "fewshot", "--help"], capture_output=True, text=True, check=True
    )
    assert all(name in top.stdout for name in ("register", "predict", "remove", "info"))
    with pytest.raises(SystemExit):
        main(["no-such-command"])


def test_train_and_evaluate_are_plugged_in_through_entry_points():
    """`fewshot train|evaluate` come from episodes/ via the fewshot.commands entry points."""
    from importlib.metadata import entry_points

    names = {entry.name for entry in entry_points(group="fewshot.commands")}
    assert {"train", "evaluate"} <= names, "install the project: pip install -e '.[dev]'"
    for command in ("train", "evaluate"):
        result = subprocess.run(
            [sys.executable, "-m", "fewshot", command, "--help"], capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr
        assert "--seed" in result.stdout


def cli(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().err


def test_cli_reports_bad_input_files_as_errors(tmp_path, capsys):
    store = str(tmp_path / "s")
    np.save(tmp_path / "a.npy", np.eye(4)[:2])
    assert cli(capsys, "register", "--store", store, "--encoder", "features", "--label", "a",
               str(tmp_path / "a.npy"))[0] == 0  # fmt: skip
    code, err = cli(capsys, "predict", "--store", store, "--from-file", str(tmp_path / "nope.txt"))
    assert code == 2 and "--from-file" in err and "nope.txt" in err
    np.save(tmp_path / "obj.npy", np.array([{"x": 1}], dtype=object), allow_pickle=True)
    code, err = cli(capsys, "predict", "--store", store, str(tmp_path / "obj.npy"))
    assert code == 2 and "obj.npy" in err and "pickle" in err
    np.save(tmp_path / "wide.npy", np.ones((1, 7)))
    code, err = cli(capsys, "predict", "--store", store, str(tmp_path / "wide.npy"))
    assert code == 2 and "dimension 7" in err
    (tmp_path / "broken.npy").write_bytes(b"not numpy")
    code, err = cli(capsys, "predict", "--store", store, str(tmp_path / "broken.npy"))
    assert code == 2 and "broken.npy" in err
    np.save(tmp_path / "narrow.npy", np.ones((1, 3)))
    code, err = cli(
        capsys, "predict", "--store", store, str(tmp_path / "a.npy"), str(tmp_path / "narrow.npy")
    )
    assert code == 2 and "one width" in err
    code, err = cli(capsys, "register", "--store", store, "--label", " ", str(tmp_path / "a.npy"))
    assert code == 2 and "label" in err
    code, err = cli(capsys, "remove", "--store", store, "--label", "missing")
    assert code == 2 and "not registered" in err
    code, err = cli(capsys, "predict", "--store", store, "-k", "0", str(tmp_path / "a.npy"))
    assert code == 2 and "k must be" in err
    assert FewShotClassifier.load(store).labels == ["a"]


def test_bad_labels_and_thresholds_exit_2_and_leave_no_folder(tmp_path):
    store = tmp_path / "new-store"
    vectors = str(tmp_path / "a.npy")
    np.save(vectors, np.eye(4)[:2])
    new = ["register", "--store", str(store), "--encoder", "features"]
    not_utf8 = os.fsdecode(b"caf\xe9")  # what a Latin-1 shell hands Python: a lone surrogate
    command = [sys.executable, "-m", "fewshot", *new, "--label", not_utf8, vectors]
    result = subprocess.run(command, capture_output=True, text=True, errors="replace")
    assert result.returncode == 2 and "Unicode" in result.stderr
    assert "Traceback" not in result.stderr and not store.exists()
    assert main([*new, "--label", "a", "--threshold", "nan", vectors]) == 2
    assert not store.exists()
    assert main([*new, "--label", "a", vectors]) == 0
    assert main(["predict", "--store", str(store), "--threshold", "inf", vectors]) == 2


def test_label_sets_from_the_command_line(tmp_path, capsys):
    store = str(tmp_path / "store")
    for name, row in (("a", 0), ("b", 1)):
        np.save(tmp_path / f"{name}.npy", np.eye(4)[row : row + 1])
    base = ["register", "--store", store, "--encoder", "features"]
    assert main([*base, "--label", "a", str(tmp_path / "a.npy")]) == 0
    assert main([*base, "--label-set", "tenant-2", "--label", "b", str(tmp_path / "b.npy")]) == 0
    capsys.readouterr()
    assert (
        main(["predict", "--store", store, "--label-set", "tenant-2", str(tmp_path / "a.npy")]) == 0
    )
    assert json.loads(capsys.readouterr().out)["label"] == "b"  # only tenant-2's classes
    assert main(["info", "--store", store]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["label_sets"] == {"default": {"a": 1}, "tenant-2": {"b": 1}}
