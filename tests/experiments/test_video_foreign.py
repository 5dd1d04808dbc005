"""``langstack reproduce video`` and its ``--foreign`` videos: made, read and tabulated per
style split with Wilson intervals (read here by a tiny detector: the table, not its numbers)."""
from __future__ import annotations

import json

import imageio.v3 as iio

from experiments.collect_infer.stats import wilson
from experiments.paper.video import foreign_markdown, run_foreign_videos, run_video_experiment
from tests.experiments.test_train_resume import tiny_detector  # noqa: F401  (fixture)

GRASP = "grasp the green object"


def test_foreign_videos_are_made_read_and_tabulated_per_split(tmp_path, tiny_detector) -> None:
    from perception import load_detector

    detector = load_detector(str(tiny_detector), progress=False)
    out = run_foreign_videos([GRASP], 1, tmp_path, detector, splits=("train", "held-out-arm"),
                             progress=False)
    assert [s["split"] for s in out["splits"]] == ["train", "held-out-arm"]
    for split, row in zip(("train", "held-out-arm"), out["videos"]):
        assert row["split"] == split and row["expert_success"]
        assert row["expected_plan"] == ["the robot is grasping the green object"]
        frames = iio.imread(row["video"])
        assert frames.shape[1:3] == tuple(row["frame_size"]) and 240 <= frames.shape[1] <= 400
    assert out["videos"][1]["style"]["arm"] == "xarm"  # the held-out arm, never in training
    assert out["videos"][0]["style"]["arm"] != "xarm"
    for s in out["splits"]:
        assert s["videos"] == 1 and s["wilson95"] == list(wilson(s["plan_correct"], 1))
    table = foreign_markdown(out)
    assert "| held-out-arm | 1 |" in table and "Wilson 95%" in table


def test_the_shifted_video_experiment_writes_its_table(tmp_path, tiny_detector) -> None:
    from perception import load_detector

    detector = load_detector(str(tiny_detector), progress=False)
    summary = run_video_experiment([GRASP], [0], tmp_path, None, 0, detector, progress=False)
    assert summary["videos"][0]["expert_success"] and summary["success_rate"] is None
    assert 0.0 <= summary["plan_accuracy"] <= 1.0 and "foreign" not in summary
    assert json.loads((tmp_path / "video.json").read_text())["plan_accuracy"] == \
        summary["plan_accuracy"]
    assert "| **all** | 1 |" in (tmp_path / "video.md").read_text()


def test_foreign_plans_are_executed_by_a_run_and_tabulated(tmp_path, tiny_detector) -> None:
    """With a run, each foreign video's plan (when read surely) is executed in fresh scenes;
    the split reports success over all videos and over those read right."""
    from perception import load_detector
    from tests.experiments.test_imitate import _make_run

    run = _make_run(tmp_path / "run", tiny_detector, task=GRASP)
    detector = load_detector(str(tiny_detector), progress=False)
    out = run_foreign_videos([GRASP], 1, tmp_path / "out", detector, splits=("train",),
                             progress=False, run_dir=run, episodes=1)
    row, split = out["videos"][0], out["splits"][0]
    assert out["episodes_per_video"] == 1
    assert row["episodes"] == (1 if row["readable"] and row["plan"] else 0)
    assert 0.0 <= row["success_rate"] <= 1.0 and split["success_rate"] == row["success_rate"]
    assert split["success_when_right"] == (row["success_rate"] if row["plan_correct"] else None)
    assert "on plans read right" in foreign_markdown(out)
    plain = run_foreign_videos([GRASP], 1, tmp_path / "plain", detector, splits=("train",),
                               progress=False)
    assert plain["splits"][0]["success_rate"] is None
    assert "on plans read right" not in foreign_markdown(plain)
