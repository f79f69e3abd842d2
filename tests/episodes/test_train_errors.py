"""Bad input to `fewshot train` is refused before training, in one line naming the fix: an empty
class folder, a class with fewer images than shots + queries, an unreadable image, a CSV
without the label column, overlapping base and novel classes, --train-blocks beyond the
network's depth, --target-data of another modality, text data for an image network."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from episodes.cli import main
from episodes.config import TrainConfig
from episodes.train import train
from fewshot.errors import FewShotError

FAST = dict(n_way=3, k_shot=1, q_query=5, episodes=2, val_episodes=2, seed=0, device="cpu",
            backbone_kwargs={"hidden": 8})  # fmt: skip


def small_folder(glyph_folder: Path, target: Path, classes: int = 4) -> Path:
    for folder in sorted(glyph_folder.iterdir())[:classes]:
        shutil.copytree(folder, target / folder.name)
    return target


def refused(tmp_path: Path, **over) -> str:
    config = TrainConfig(data_root="unused", out=str(tmp_path / "run"), **{**FAST, **over})
    with pytest.raises(FewShotError) as caught:
        train(config, progress=False)
    return str(caught.value)


def test_an_empty_class_folder_is_named(glyph_folder, tmp_path):
    data = small_folder(glyph_folder, tmp_path / "data")
    (data / "zebra").mkdir()
    message = refused(tmp_path, data=[str(data)])
    assert "class folder" in message and "zebra holds no images" in message
    assert "add images to it or remove the folder" in message


def test_a_class_smaller_than_shots_plus_queries_is_named_with_its_count(glyph_folder, tmp_path):
    data = small_folder(glyph_folder, tmp_path / "data")
    few = sorted(data.iterdir())[0]
    for png in sorted(few.iterdir())[3:]:
        png.unlink()
    message = refused(tmp_path, data=[str(data)])
    assert f"class {few.name!r} has 3" in message and "(1+5) = 6 examples" in message
    assert "lower the shots or queries" in message


def test_an_unreadable_image_is_named(glyph_folder, tmp_path):
    data = small_folder(glyph_folder, tmp_path / "data")
    bad = sorted(data.iterdir())[1] / "broken.png"
    bad.write_bytes(b"not a png at all")
    message = refused(tmp_path, data=[str(data)])
    assert f"cannot decode image file {bad}" in message and "remove or replace it" in message


def test_a_csv_without_the_label_column_names_the_flag(ticket_csv, tmp_path, capsys):
    argv = ["train", "--data", str(ticket_csv), "--label-column", "category", "--out",
            str(tmp_path / "run"), "--init", "minilm"]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "has no column 'category'" in err and "--label-column" in err and "\n" not in err


def test_overlapping_base_and_novel_classes_are_refused(glyph_folder, tmp_path):
    names = sorted(p.name for p in glyph_folder.iterdir())
    classes = tmp_path / "classes.json"
    classes.write_text(json.dumps({"base": names[:5], "val": names[5:6], "novel": names[4:]}))
    message = refused(tmp_path, data=[str(glyph_folder)], classes=str(classes))
    assert "base and novel classes overlap in 1 class(es)" in message and names[4] in message


@pytest.mark.parametrize(
    ("over", "message"),
    [
        (
            {"train_blocks": 5},
            "this encoder has 4 blocks (stage1 … stage4); --train-blocks "
            "(train_blocks) must be 0..4 or all, got 5",
        ),
        (
            {"train_blocks": 19, "init": "efficientnet-lite0", "image_size": 32},
            "this encoder has 18 blocks (stem … head); --train-blocks (train_blocks) must be "
            "0..18 or all, got 19",
        ),
    ],
)
def test_train_blocks_beyond_the_depth_names_the_range(glyph_folder, tmp_path, over, message):
    assert message in refused(tmp_path, data=[str(glyph_folder)], **over)


def test_target_data_of_another_modality_is_refused(glyph_folder, ticket_csv, tmp_path):
    message = refused(tmp_path, data=[str(glyph_folder)], target_data=str(ticket_csv))
    assert "holds texts but the network reads images" in message
    assert "unlabelled images of the target domain" in message


def test_text_data_for_an_image_network_names_the_encoder_to_use(ticket_csv, tmp_path):
    message = refused(tmp_path, data=[str(ticket_csv)])
    assert "holds texts but the network reads images" in message and "--init minilm" in message
