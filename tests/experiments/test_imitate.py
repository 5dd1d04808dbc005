"""One-shot imitation from a video: plan extraction, execution, demo videos and bad input."""
from __future__ import annotations

import contextlib
import io
import json
import subprocess
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from experiments.imitation.imitate import plan_from_predicates, plan_instruction, plan_task
from perception.captions import grasp_caption, on_top_caption
from planner.grammar import GrammarPlanner
from tests.experiments.conftest import assert_clean_usage_error, last_json
from tests.experiments.test_train_resume import TINY_CLIP

G = {c: grasp_caption(c) for c in ("red", "green", "blue")}
RED_ON_BLUE = on_top_caption("red", "blue")
STACK = "stack the red object on top of the blue object"
TRIPLE = "stack all three objects"


def _cached_detector_dir() -> Path | None:
    """The default detector if it is already in the user cache (building one takes minutes):
    the one `imitate` reads videos with, trained with the arm in random colours."""
    from perception.detector import CONFIG_FILE, WEIGHTS_FILE
    from perception.loader import default_detector_dir

    path = default_detector_dir()
    if (path / CONFIG_FILE).is_file() and (path / WEIGHTS_FILE).is_file():
        return path
    return None


needs_detector = pytest.mark.skipif(
    _cached_detector_dir() is None, reason="no trained detector cached (langstack perception train)")


def cli(*args: str) -> subprocess.CompletedProcess:
    """``langstack ARGS`` in this process (no interpreter start-up, torch imported once)."""
    from experiments.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())


@pytest.fixture(scope="module")
def tiny_detector(tmp_path_factory) -> Path:
    """An untrained tiny CLIP detector: enough for goal-embedding shapes (execution uses the
    oracle) and for a video in which nothing can be detected."""
    import open_clip
    import torch

    from perception.detector import Detector
    from perception.factory import create_model

    folder = tmp_path_factory.mktemp("clip_configs")
    (folder / "langstack-imitate-tiny.json").write_text(json.dumps(TINY_CLIP))
    open_clip.add_model_config(folder)
    torch.manual_seed(0)
    model, spec = create_model("langstack-imitate-tiny")
    return Detector(model.eval(), spec, gamma=0.5).save(tmp_path_factory.mktemp("detector"))


def _make_run(root: Path, detector_dir: Path, task: str = TRIPLE) -> Path:
    """A run directory as `langstack train` writes it, with an untrained policy (fast)."""
    from experiments.collect_infer.config import TrainConfig
    from experiments.collect_infer.prepare import action_bounds
    from experiments.collect_infer.rundir import RunDir
    from perception.detector import Detector
    from policy.checkpoint import save_policy
    from policy.model import PolicyConfig, make_policy

    low, high = action_bounds()
    cfg = PolicyConfig(goal_dim=Detector.load(detector_dir).embed_dim, action_low=low,
                       action_high=high, d_model=32, n_layers=1, dropout=0.0)
    run = RunDir(root).create()
    train = TrainConfig(task=task, detector="oracle", detector_path=str(detector_dir))
    run.write_config({"train": asdict(train), "plan": [], "policy": asdict(cfg)})
    save_policy(make_policy(cfg, seed=0), run.checkpoint)
    return root


# ---------------------------------------------------------------------------- plan extraction
def test_a_plan_names_the_task_it_is_judged_by() -> None:
    plan = GrammarPlanner().plan(TRIPLE)
    task = plan_task(plan)
    assert task.goals == ("on_top(green,blue)", "on_top(red,green)") and not task.triple
    assert task.instruction == plan_instruction(plan) == (
        "stack the green object on top of the blue object, "
        "then stack the red object on top of the green object")
    assert plan_task([G["blue"]]).goals == ("grasping(blue)",)
    with pytest.raises(ValueError, match="names no stack or grasp"):
        plan_task([])


@pytest.mark.parametrize("instruction", [
    TRIPLE, "stack the blue object on the green object and then the red object on the blue object",
])
def test_the_ground_truth_of_a_demo_reads_as_the_planners_plan(instruction) -> None:
    """The oracle path: a perfect detector's reading of an expert video gives the planner's plan."""
    from experiments.collect_infer.tasks import task_for
    from sim.demo import DemoConfig, render_demo

    task = task_for(instruction, "grammar")
    demo = render_demo(task, DemoConfig(shift=True, seed=1, motion_frames=4))
    assert demo.success
    read = plan_from_predicates(demo.predicates)
    assert read.plan == GrammarPlanner().plan(instruction) and read.confidence > 0.99
    moves = ", ".join(m for _, m in read.changes).split(", ")
    assert len(moves) == 4 and moves[0].startswith("grasp") and moves[1].startswith("put")


@pytest.mark.parametrize("shift", [
    pytest.param(False, marks=needs_detector),
    pytest.param(True, marks=needs_detector),  # the KUKA, other cameras and light
])
def test_plan_is_read_off_a_generated_expert_video(tmp_path, shift) -> None:
    from experiments.imitation.imitate import read_plan
    from perception import load_detector

    video = tmp_path / "demo.mp4"
    made = cli("demo-video", "--instruction", TRIPLE, "--out", str(video), "--seed", "2",
               *(["--shift"] if shift else []), "--json")
    assert made.returncode == 0, made.stderr
    shown = last_json(made)
    assert shown["frame_size"] == [128, 256] and shown["expert_success"]
    detector = load_detector(_cached_detector_dir(), progress=False)
    read = read_plan(video, detector, progress=False)
    assert read.views == 2 and read.frames_scored == shown["frames"]
    assert read.plan == shown["shown_plan"] == GrammarPlanner().plan(TRIPLE)
    assert read.readable and read.confidence >= 0.8
    frames = [t for t, _ in read.changes]
    assert frames == sorted(frames) and len(frames) >= 2


# ---------------------------------------------------------------------------- execution + CLI
def test_execute_plan_runs_fresh_episodes_and_judges_by_ground_truth(tmp_path,
                                                                     tiny_detector) -> None:
    from experiments.imitation.imitate import execute_plan

    run = _make_run(tmp_path / "run", tiny_detector)
    out = execute_plan(run, [G["red"], RED_ON_BLUE], episodes=2, seed=3, horizon=2,
                       progress=False)
    assert out["task"] == STACK and out["detector"] == "oracle"
    assert [o["seed"] for o in out["episodes"]] == sorted({o["seed"] for o in out["episodes"]})
    assert all(isinstance(o["success"], bool) and 1 <= o["steps"] <= 2 for o in out["episodes"])
    assert out["success_rate"] == np.mean([o["success"] for o in out["episodes"]])
    judged = execute_plan(run, [G["red"], RED_ON_BLUE], episodes=1, seed=3, horizon=1,
                          judge=TRIPLE, progress=False)
    assert judged["task"] == TRIPLE


@needs_detector
def test_imitate_cli_reads_the_plan_and_reports_json(tmp_path) -> None:
    detector = _cached_detector_dir()
    run = _make_run(tmp_path / "run", detector)
    video = tmp_path / "demo.gif"
    made = cli("demo-video", "--instruction", STACK, "--out", str(video), "--seed", "4")
    assert made.returncode == 0, made.stderr
    proc = cli("imitate", str(video), "--run-dir", str(run), "--detector", str(detector),
               "--episodes", "2", "--horizon", "2", "--json")
    assert proc.returncode == 0, proc.stderr
    result = last_json(proc)
    assert result["plan"] == GrammarPlanner().plan(STACK)
    assert isinstance(result["success"], bool) and result["episodes"] == 2
    assert 0.0 <= result["success_rate"] <= 1.0 and len(result["outcomes"]) == 2
    assert result["readable"] and result["confidence"] >= 0.8 and result["changes"]
    only = cli("imitate", str(video), "--plan-only", "--detector", str(detector), "--json")
    assert only.returncode == 0, only.stderr
    read = last_json(only)
    assert read["plan"] == result["plan"] and "success" not in read and "outcomes" not in read


def test_a_video_that_cannot_be_read_exits_1_with_a_clear_message(tmp_path,
                                                                  tiny_detector) -> None:
    from perception.detector import Detector

    blind = Detector.load(tiny_detector)
    blind.gamma = 1.01  # a cosine never reaches it: nothing can be detected
    blind_dir = blind.save(tmp_path / "blind")
    frames = tmp_path / "frames"
    frames.mkdir()
    _write_frames(frames, np.random.default_rng(0).integers(0, 255, (5, 40, 40, 3), np.uint8))
    run = _make_run(tmp_path / "run", tiny_detector)  # a valid run: the video is what fails
    proc = cli("imitate", str(frames), "--run-dir", str(run), "--detector", str(blind_dir),
               "--json")
    assert proc.returncode == 1, proc.stderr
    assert "could not read" in proc.stderr and "nothing stacked" in proc.stderr
    assert "Traceback" not in proc.stderr
    result = last_json(proc)
    assert result["plan"] == [] and result["success"] is False and result["frames_scored"] == 5
    assert not result["readable"] and result["reason"]
    only = cli("imitate", str(frames), "--plan-only", "--detector", str(blind_dir), "--json")
    assert only.returncode == 1 and not last_json(only)["readable"]


def test_imitate_needs_a_run_dir_unless_plan_only(tmp_path) -> None:
    proc = cli("imitate", str(tmp_path / "x.gif"))
    assert proc.returncode == 2 and "--run-dir is required (or --plan-only" in proc.stderr


def _write_frames(folder: Path, frames: np.ndarray) -> None:
    import imageio.v3 as iio

    for i, f in enumerate(frames):
        iio.imwrite(folder / f"frame_{i:03d}.png", f)


def _bad_video(kind: str, tmp_path: Path) -> Path:
    import imageio.v3 as iio

    rng = np.random.default_rng(0)
    if kind == "corrupt":
        path = tmp_path / "broken.mp4"
        path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + rng.bytes(2000))
        return path
    if kind == "not-a-video":
        path = tmp_path / "notes.txt"
        path.write_text("hello")
        return path
    folder = tmp_path / kind
    folder.mkdir()
    if kind == "grayscale":
        _write_frames(folder, rng.integers(0, 255, (3, 32, 32), np.uint8))
    elif kind == "mixed-sizes":
        iio.imwrite(folder / "a.png", rng.integers(0, 255, (32, 32, 3), np.uint8))
        iio.imwrite(folder / "b.png", rng.integers(0, 255, (40, 32, 3), np.uint8))
    elif kind == "two-channels":
        iio.imwrite(folder / "a.png", rng.integers(0, 255, (32, 32, 2), np.uint8))
    elif kind == "truncated":
        (folder / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n" + rng.bytes(50))
    return folder  # "empty": nothing written


@pytest.mark.parametrize("kind,needle", [
    ("corrupt", "cannot read video"),
    ("not-a-video", "is not a video"),
    ("empty", "holds no .png/.jpg frames"),
    ("grayscale", "grayscale"),
    ("two-channels", "expected H x W x 3 RGB"),
    ("mixed-sizes", "different sizes"),
    ("truncated", "cannot read image"),
])
def test_bad_videos_exit_2_with_one_clear_line(tmp_path, kind, needle) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text("{}")
    video = _bad_video(kind, tmp_path)
    assert_clean_usage_error(cli("imitate", str(video), "--run-dir", str(run)), needle)


def test_missing_video_run_dir_and_bad_demo_output_exit_2(tmp_path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text("{}")
    assert_clean_usage_error(cli("imitate", str(tmp_path / "nope.mp4"), "--run-dir", str(run)),
                             "no such video")
    assert_clean_usage_error(cli("imitate", str(tmp_path), "--run-dir", str(tmp_path / "x")),
                             "not a run directory")
    assert_clean_usage_error(cli("demo-video", "--instruction", STACK, "--out",
                                 str(tmp_path / "d.avi")), ".mp4 or .gif")
    assert_clean_usage_error(cli("demo-video", "--instruction", "stack red on red",
                                 "--out", str(tmp_path / "d.mp4")), "itself")


def test_frames_are_split_into_views_and_subsampled(tmp_path) -> None:
    from experiments.imitation.frames import read_video, subsample
    from experiments.imitation.watch import to_views

    np.testing.assert_array_equal(subsample(10, 4), [0, 3, 6, 9])
    assert len(subsample(3, 240)) == 3
    frames = tmp_path / "frames"
    frames.mkdir()
    tiles = np.random.default_rng(1).integers(0, 255, (12, 32, 64, 3), np.uint8)
    _write_frames(frames, tiles)
    read = read_video(frames, max_frames=5, progress=False)
    assert read.total == 12 and len(read.frames) == 5 and read.indices[-1] == 11
    views = to_views(read.frames)
    assert views.shape == (5, 2, 32, 32, 3)  # a 2:1 frame is two camera views
    np.testing.assert_array_equal(views[0, 1], tiles[0][:, 32:])
    assert to_views(read.frames[:, :, :48]).shape == (5, 1, 32, 32, 3)  # one view, centre crop
    assert to_views(read.frames, views=1).shape == (5, 1, 32, 32, 3)


def test_a_video_reader_directory_reads_videos_and_round_trips(tmp_path, tiny_detector) -> None:
    """A saved VideoReader (localiser + crop scorer) loads with the same scores and is taken
    by --detector DIR; a blind one (nothing reaches gamma) reports the video unreadable."""
    from perception.detector import Detector
    from perception.localise import Localiser
    from perception.reader import VideoReader, is_reader
    import torch

    torch.manual_seed(0)
    det = Detector.load(tiny_detector)
    reader = VideoReader(Localiser(8), det, meta={"note": "untrained"})
    saved = reader.save(tmp_path / "reader")
    assert is_reader(saved) and not is_reader(tiny_detector)
    frames = np.random.default_rng(1).integers(0, 255, (6, 1, 50, 70, 3), np.uint8)
    loaded = VideoReader.load(saved)
    for mine, theirs in zip(loaded.read(frames), reader.read(frames)):  # scores, tracks
        assert np.allclose(mine, theirs, atol=1e-5)
    assert loaded.points(frames[:, 0]).shape == (6, 3, 2)
    assert loaded.crops(frames[:, 0]).shape == (6, det.spec.image_size, det.spec.image_size, 3)
    loaded.detector.gamma = 1.01  # a cosine never reaches it
    blind = loaded.save(tmp_path / "blind")
    video = tmp_path / "frames"
    video.mkdir()
    _write_frames(video, frames[:, 0])
    only = cli("imitate", str(video), "--plan-only", "--detector", str(blind), "--json")
    assert only.returncode == 1 and "could not read" in only.stderr, only.stderr
    assert not last_json(only)["readable"] and last_json(only)["frames_scored"] == 6
