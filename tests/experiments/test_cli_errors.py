"""Bad input as a new user gives it: exit 2, one stderr line naming the problem, no traceback,
and nothing created on disk (no run directory, no output folder, no cache entry)."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from contextlib import redirect_stderr
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from tests.experiments.conftest import REPO

GRASP = "grasp the red object"


# ----------------------------------------------------------------------------- helpers
def snapshot(*roots: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under ``roots`` with its size and mtime."""
    seen: dict[str, tuple[int, int]] = {}
    for root in roots:
        if not root.exists():
            continue
        seen[str(root)] = (0, root.stat().st_mtime_ns)
        for path in root.rglob("*"):
            st = path.lstat()
            seen[str(path)] = (st.st_size, st.st_mtime_ns)
    return seen


@pytest.fixture
def user(tmp_path: Path):
    """Run ``python -m experiments.cli`` from a fresh folder with an empty cache; returns a
    function giving the completed process after asserting the clean-refusal contract."""
    cwd, cache, hf = tmp_path / "cwd", tmp_path / "cache", tmp_path / "hf"
    for folder in (cwd, cache, hf):
        folder.mkdir()

    def run(*args: str, needles: tuple[str, ...] = (), env: dict[str, str] | None = None,
            watch: tuple[Path, ...] = ()) -> subprocess.CompletedProcess:
        environ = {**os.environ, "LANGSTACK_CACHE_DIR": str(cache), "HF_HOME": str(hf),
                   "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO), **(env or {})}
        before = snapshot(cwd, cache, hf, *watch)
        proc = subprocess.run([sys.executable, "-m", "experiments.cli", *args], cwd=cwd,
                              env=environ, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr, proc.stderr
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1, proc.stderr
        for needle in needles:
            assert needle in lines[0], lines[0]
        assert snapshot(cwd, cache, hf, *watch) == before, "something was written to disk"
        return proc

    run.cwd = cwd  # type: ignore[attr-defined]
    return run


def write_safetensors(path: Path) -> Path:
    """A small, well-formed safetensors file."""
    from safetensors.numpy import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({"w": np.zeros(4, dtype=np.float32)}, str(path))
    return path


def fake_detector(folder: Path) -> Path:
    """A folder that passes the cheap detector checks (its weights are not a real model)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "detector.json").write_text(json.dumps({"format_version": 1,
                                                      "model_name": "langstack-rn-tiny"}))
    write_safetensors(folder / "model.safetensors")
    return folder


def fake_run(root: Path, detector: Path, checkpoint: bool = True, **train) -> Path:
    """A run directory with a valid config (oracle detector, grammar planner) and, with
    ``checkpoint``, a policy checkpoint that passes the cheap checks."""
    from experiments.collect_infer.config import TrainConfig

    cfg = TrainConfig(task=GRASP, detector="oracle", planner="grammar",
                      detector_path=str(detector), **train)
    root.mkdir(parents=True)
    (root / "config.json").write_text(json.dumps({"train": asdict(cfg), "plan": [],
                                                  "policy": {}}))
    if checkpoint:
        ckpt = root / "checkpoints" / "latest"
        ckpt.mkdir(parents=True)
        (ckpt / "config.json").write_text(json.dumps({
            "format": "langstack.policy", "version": 1,
            "config": {"goal_dim": 16, "action_low": [-0.2, -0.2], "action_high": [0.2, 0.2]}}))
        write_safetensors(ckpt / "model.safetensors")
    return root


def write_config(root: Path, config: object) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.json").write_text(json.dumps(config))
    return root


# ----------------------------------------------------------------------------- train
def test_missing_detector_path_is_refused_before_the_run_dir_is_made(user) -> None:
    user("train", "--task", GRASP, "--detector-path", "/nope", needles=("--detector-path", "/nope"))
    assert not (user.cwd / "runs").exists()


def test_corrupt_detector_weights_are_refused_before_the_run_dir_is_made(user, tmp_path) -> None:
    det = fake_detector(tmp_path / "det")
    (det / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}")
    user("train", "--task", GRASP, "--detector-path", str(det), "--run-dir", "r",
         needles=("safetensors",), watch=(det,))


def test_flan_t5_without_weights_is_refused_before_any_work(user) -> None:
    user("train", "--task", GRASP, "--planner", "flan-t5", "--run-dir", "r",
         needles=("FLAN-T5",))


@pytest.mark.parametrize("where", ["home-like", "file", "under-a-file"])
def test_a_new_run_needs_a_new_or_empty_directory(user, tmp_path, where) -> None:
    folder = tmp_path / "home"
    folder.mkdir()
    (folder / ".bashrc").write_text("# mine\n")
    target = {"home-like": folder, "file": folder / ".bashrc",
              "under-a-file": folder / ".bashrc" / "run"}[where]
    user("train", "--task", GRASP, "--detector-path", "/nope", "--run-dir", str(target),
         needles=("--run-dir",), watch=(folder,))


def test_an_existing_run_needs_resume(user, tmp_path) -> None:
    run = fake_run(tmp_path / "run", fake_detector(tmp_path / "det"))
    user("train", "--task", GRASP, "--run-dir", str(run), needles=("--resume",), watch=(run,))


@pytest.mark.parametrize("config,needle", [
    ({}, "not a run config"),
    ({"train": {"task": GRASP, "old_setting": 3}}, "unknown settings 'old_setting'"),
    ({"train": {"agent": "framework"}}, "missing settings task"),
    ({"train": {"task": GRASP, "seed": "zero"}}, "'seed' has the wrong type"),
    ({"train": {"task": GRASP, "agent": "robot"}}, "agent must be one of"),
    ({"train": [1, 2]}, "not a run config"),
])
def test_resume_refuses_a_config_it_cannot_use(user, tmp_path, config, needle) -> None:
    run = write_config(tmp_path / "run", config)
    user("train", "--resume", "--run-dir", str(run), needles=(needle,), watch=(run,))


@pytest.mark.parametrize("flag,value,stored", [
    ("--seed", "3", "--seed 0"),
    ("--agent", "baseline", "--agent 'framework'"),
    ("--detector", "clip", "--detector 'oracle'"),
    ("--task", "grasp the blue object", f"--task {GRASP!r}"),
    ("--planner", "auto", "--planner 'grammar'"),
    ("--explore-held", "policy", "--explore-held set-down"),
    ("--eval-every", "7", "--eval-every 2000"),
])
def test_resume_refuses_a_flag_that_changes_what_the_run_learns(user, tmp_path, flag, value,
                                                                  stored) -> None:
    run = fake_run(tmp_path / "run", fake_detector(tmp_path / "det"))
    user("train", "--resume", "--run-dir", str(run), flag, value, needles=(flag, stored),
         watch=(run,))


def test_resume_honours_actors_budget_and_video_and_keeps_the_rest(tmp_path) -> None:
    from experiments.cli import build_parser
    from experiments.cli.train import _resumed

    run = fake_run(tmp_path / "run", fake_detector(tmp_path / "det"), actors=1,
                   max_env_steps=300)
    args = build_parser().parse_args(["train", "--resume", "--run-dir", str(run), "--actors",
                                      "3", "--no-overlap", "--no-video", "--seed", "0"])
    cfg, _ = _resumed(args)
    assert (cfg.actors, cfg.overlap, cfg.video, cfg.max_env_steps) == (3, False, False, 300)
    assert (cfg.seed, cfg.agent, cfg.detector, cfg.task) == (0, "framework", "oracle", GRASP)


def test_resume_refuses_a_corrupt_metrics_line(user, tmp_path) -> None:
    run = fake_run(tmp_path / "run", fake_detector(tmp_path / "det"))
    (run / "metrics.jsonl").write_text('{"kind": "round"}\n{garbage\n{"kind": "eval"}\n')
    user("train", "--resume", "--run-dir", str(run), needles=("metrics.jsonl", "line 2"),
         watch=(run,))


def test_target_success_nan_is_refused(user) -> None:
    user("train", "--task", GRASP, "--target-success", "nan", needles=("--target-success",))


# ----------------------------------------------------------------------------- eval / run
@pytest.mark.parametrize("config,needle", [
    ({}, "not a run config"),
    ({"train": {"task": GRASP, "old_setting": 3}}, "unknown settings"),
    ({"train": {"task": 5}}, "'task' has the wrong type"),
])
@pytest.mark.parametrize("command", ["eval", "run"])
def test_eval_and_run_refuse_a_config_they_cannot_use(user, tmp_path, command, config,
                                                       needle) -> None:
    run = write_config(tmp_path / "run", config)
    extra = ["--instruction", GRASP] if command == "run" else []
    user(command, "--run-dir", str(run), *extra, needles=(needle,), watch=(run,))


@pytest.mark.parametrize("command", ["eval", "run"])
def test_eval_and_run_refuse_a_run_without_checkpoint(user, tmp_path, command) -> None:
    run = fake_run(tmp_path / "run", fake_detector(tmp_path / "det"), checkpoint=False)
    extra = ["--instruction", GRASP] if command == "run" else []
    user(command, "--run-dir", str(run), *extra, needles=("no policy checkpoint",), watch=(run,))


def test_run_refuses_a_video_path_that_is_a_folder(user, tmp_path) -> None:
    run = fake_run(tmp_path / "run", fake_detector(tmp_path / "det"))
    (user.cwd / "out.mp4").mkdir()
    user("run", "--run-dir", str(run), "--instruction", GRASP, "--video", "out.mp4",
         needles=("--video", "directory"), watch=(run,))


# ----------------------------------------------------------------------------- reproduce
def test_reproduce_exploration_reports_a_stored_run_made_another_way(user, tmp_path) -> None:
    out = tmp_path / "out"
    fake_run(out / "runs" / "grasp-the-red-object__framework__0", fake_detector(tmp_path / "d"),
             checkpoint=False, min_env_steps=5)
    user("reproduce", "exploration", "--tasks", "grasp", "--seeds", "1", "--out", str(out),
         needles=("choose another --out",), watch=(out,))


@pytest.mark.parametrize("experiment", ["exploration", "reuse"])
def test_reproduce_out_refuses_a_folder_of_other_files(user, tmp_path, experiment) -> None:
    out = tmp_path / "home"
    out.mkdir()
    (out / "notes.txt").write_text("mine\n")
    user("reproduce", experiment, "--out", str(out), needles=("--out", "notes.txt"), watch=(out,))


def test_reproduce_out_refuses_a_broken_stored_run(user, tmp_path) -> None:
    out = tmp_path / "out"
    write_config(out / "runs" / "grasp-the-red-object__framework__0", {})
    user("reproduce", "exploration", "--out", str(out), needles=("not a run config",),
         watch=(out,))


def test_reproduce_out_accepts_its_own_outputs(tmp_path) -> None:
    from experiments.cli.reproduce import EXPLORATION_OUTPUTS
    from experiments.cli.util import UsageError, check_out_dir

    out = tmp_path / "out"
    fake_run(out / "runs" / "grasp-the-red-object__framework__0", fake_detector(tmp_path / "d"))
    (out / "fig4.png").write_bytes(b"png")
    check_out_dir(out, EXPLORATION_OUTPUTS)
    (out / "runs" / "stranger").mkdir()
    with pytest.raises(UsageError, match="stranger"):
        check_out_dir(out, EXPLORATION_OUTPUTS)


# ----------------------------------------------------------------------------- environment
@pytest.mark.parametrize("value,needle", [
    ("garbage", "MODEL:TAG"),
    ("ViT-B-32:no-such-tag", "not a pretrained tag"),
    ("NoSuchModel:openai", "unknown open_clip model"),
    ("ViT-B-32:openai", "not in the local open_clip cache"),
])
def test_a_bad_clip_pretrained_variable_is_an_error_naming_it(user, value, needle) -> None:
    user("train", "--task", GRASP, "--run-dir", "r", env={"LANGSTACK_CLIP_PRETRAINED": value},
         needles=("LANGSTACK_CLIP_PRETRAINED", needle))


def test_clip_model_without_pretrained_is_an_error(monkeypatch) -> None:
    from perception import factory

    monkeypatch.delenv("LANGSTACK_CLIP_PRETRAINED", raising=False)
    monkeypatch.setenv("LANGSTACK_CLIP_MODEL", "ViT-B-32")
    with pytest.raises(ValueError, match="LANGSTACK_CLIP_PRETRAINED to MODEL:TAG"):
        factory.find_pretrained()


def test_egl_fallback_is_said_once(monkeypatch) -> None:
    import pkgutil

    from sim import bullet

    monkeypatch.setattr(pkgutil, "get_loader", lambda name: None)
    monkeypatch.setattr(bullet, "_egl_warned", False)
    err = io.StringIO()
    with redirect_stderr(err):
        for _ in range(2):
            bullet.Bullet(egl=True).close()
    lines = err.getvalue().splitlines()
    assert len(lines) == 1 and "EGL" in lines[0] and "TinyRenderer" in lines[0]


# ----------------------------------------------------------------------------- library
def test_metrics_only_a_torn_last_line_is_dropped(tmp_path) -> None:
    from experiments.collect_infer.rundir import RunDir

    run = RunDir(tmp_path)
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"kind": "eval", "env_steps": 1}\n{"kind": "round"}\n{"kind": "ev')
    assert [r["kind"] for r in run.records()] == ["eval", "round"]
    path.write_text('{"kind": "eval"}\n{"kind": "ro\n{"kind": "eval"}\n')
    with pytest.raises(ValueError, match=r"metrics.jsonl: line 2"):
        run.records()
    path.write_text('{"kind": "eval"}\n[1, 2]\n{"kind": "eval"}\n')
    with pytest.raises(ValueError, match="line 2"):
        run.records("eval")


def test_a_command_module_that_fails_to_import_is_not_skipped(monkeypatch) -> None:
    import experiments.cli as cli

    monkeypatch.setattr(cli, "COMMAND_MODULES", (*cli.COMMAND_MODULES, "no_such_command"))
    with pytest.raises(ModuleNotFoundError, match="no_such_command"):
        cli.build_parser()


def test_no_private_helper_is_imported_across_cli_modules() -> None:
    for path in (REPO / "experiments" / "cli").glob("*.py"):
        text = path.read_text()
        assert "import _" not in text and not any(
            line.strip().startswith("from experiments.") and " import _" in line
            for line in text.splitlines()), path


def test_check_task_is_public_in_util() -> None:
    from experiments.cli.util import UsageError, check_task

    assert check_task(f"  {GRASP} ") == GRASP
    with pytest.raises(UsageError):
        check_task("make me a sandwich")
