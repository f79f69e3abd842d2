"""Evaluation reports for people: the one-line summary with its protocol, and the JSON file
written atomically with a histogram beside it."""

from __future__ import annotations

import json

from episodes.report import format_result, write_report

REPORT = {
    "format": "fewshot.evaluation",
    "version": 1,
    "protocol": {
        "n_way": 20, "k_shot": 1, "q_query": 15, "n_episodes": 4, "seed": 0,
        "within_group": 1.0, "split": "evaluation", "image_size": 105,
        "encoder": {"name": "omniglot-conv4"}, "transform": {"type": "identity"},
    },
    "accuracy": {"mean": 0.85, "ci95": 0.0123, "std": 0.0125, "episodes": 4},
    "per_episode": [0.8, 0.85, 0.85, 0.9],
    "images_embedded": 1280,
    "seconds": {"embed": 1.0, "total": 1.1},
}  # fmt: skip


def test_one_line_names_score_and_protocol():
    line = format_result(REPORT)
    assert line.startswith("85.00 ± 1.23%  (20-way 1-shot, 15 queries, E=4, seed=0")
    assert "evaluation 105px" in line and "within_alphabet=1.0" in line
    assert "encoder=omniglot-conv4" in line and line.endswith("transform=identity)")


def test_json_and_plot_are_written(tmp_path):
    files = write_report(REPORT, tmp_path / "reports" / "r.json")
    assert [f.name for f in files] == ["r.json", "r.png"]
    assert json.loads(files[0].read_text()) == REPORT
    assert files[1].stat().st_size > 1000
    assert sorted(p.name for p in files[0].parent.iterdir()) == ["r.json", "r.png"]
    assert write_report(REPORT, tmp_path / "plain.json", plot=False) == [tmp_path / "plain.json"]
