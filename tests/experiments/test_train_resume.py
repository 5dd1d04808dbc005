"""``langstack train``: a run killed with SIGKILL resumes without losing committed episodes."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.experiments.conftest import REPO, langstack, last_json

TINY_CLIP = {
    "embed_dim": 16,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 8},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}

SMALL_RUN = dict(d_model=32, n_layers=1, bc_steps_per_round=5, episodes_per_round=4,
                 eval_episodes=4, confirm_episodes=4, final_eval_episodes=4, video=False)
"""TrainConfig settings of the in-process runs below: a tiny policy, few episodes."""


@pytest.fixture(scope="module")
def tiny_detector(tmp_path_factory) -> Path:
    """A random tiny CLIP detector: its text encoder gives the goal embeddings."""
    import open_clip
    import torch

    from perception.detector import Detector
    from perception.factory import create_model

    from perception.captions import CAPTIONS

    folder = tmp_path_factory.mktemp("clip_configs")
    (folder / "langstack-resume-tiny.json").write_text(json.dumps(TINY_CLIP))
    open_clip.add_model_config(folder)
    torch.manual_seed(0)
    model, spec = create_model("langstack-resume-tiny")
    # An untrained text tower maps the 9 captions to nearly parallel vectors; a trained one
    # tells them apart. A few steps pushing the captions apart stand in for that training.
    tokens = open_clip.get_tokenizer("langstack-resume-tiny")(list(CAPTIONS))
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(150):
        text = torch.nn.functional.normalize(model.encode_text(tokens), dim=-1)
        loss = torch.logsumexp((text @ text.T - 4 * torch.eye(len(CAPTIONS))) / 0.1, dim=1).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return Detector(model.eval(), spec, gamma=0.5).save(tmp_path_factory.mktemp("detector"))


def _manifest(run: Path) -> list[dict]:
    path = run / "episodes" / "manifest.jsonl"
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text().splitlines() if x.endswith("}")]


def test_kill_9_then_resume_keeps_every_committed_episode(tmp_path, tiny_detector) -> None:
    run = tmp_path / "run"
    args = ["train", "--task", "grasp the red object", "--detector", "oracle", "--actors", "1",
            "--detector-path", str(tiny_detector), "--run-dir", str(run), "--eval-every", "100",
            "--target-success", "2", "--no-video", "--json"]
    proc = subprocess.Popen([sys.executable, "-m", "experiments.cli", *args,
                             "--max-env-steps", "100000"], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while len(_manifest(run)) < 24 and time.time() < deadline:
        time.sleep(0.5)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = _manifest(run)
    assert len(before) >= 24, "the run did not commit episodes in time"
    evals_before = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()
                    if '"eval"' in x]
    steps_before = sum(r["T"] for r in before)

    resumed = langstack("train", "--resume", "--run-dir", str(run), "--max-env-steps",
                        str(steps_before + 80), "--no-video", "--json")
    assert resumed.returncode == 0, resumed.stderr
    result = last_json(resumed)
    after = _manifest(run)
    assert after[:len(before)] == before  # nothing committed was lost or rewritten
    assert len(after) > len(before)
    assert result["env_steps"] == sum(r["T"] for r in after) >= steps_before + 80
    curve = [json.loads(x)["env_steps"] for x in (run / "metrics.jsonl").read_text().splitlines()
             if '"kind": "eval"' in x]
    assert curve[:len(evals_before)] == [r["env_steps"] for r in evals_before]
    assert curve == sorted(curve) and len(curve) > len(evals_before)  # the curve continues
    assert (run / "learning_curve.png").stat().st_size > 1000
    assert (run / "checkpoints" / "latest" / "model.safetensors").exists()


def test_a_run_records_its_detector_and_a_resume_keeps_it(tmp_path, tiny_detector, monkeypatch):
    """Goal tokens come from the detector's text encoder: a run pins the detector it was made
    with, so a newer default cannot silently change it, and another one on resume is refused."""
    from experiments.collect_infer.config import TrainConfig
    from experiments.collect_infer.prepare import pin_detector
    from experiments.collect_infer.rundir import RunDir
    from perception import factory, loader

    monkeypatch.setenv(loader.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setattr(factory, "find_pretrained", lambda: None)  # no pretrained CLIP here
    default = loader.default_detector_dir()
    default.parent.mkdir(parents=True)
    default.symlink_to(tiny_detector, target_is_directory=True)  # "already built"

    run = RunDir(tmp_path / "run").create()
    cfg = pin_detector(TrainConfig(task="grasp the red object"), run, resume=False)
    assert cfg.detector_path == str(default)
    run.write_config({"train": {**cfg.__dict__}})

    # the default moves on (say, a new build version): the run keeps its own detector
    monkeypatch.setattr(loader, "BUILD_VERSION", loader.BUILD_VERSION + 1)
    assert loader.default_detector_dir() != default
    again = pin_detector(TrainConfig(task="grasp the red object"), run, resume=True)
    assert again.detector_path == str(default)
    with pytest.raises(ValueError, match="cannot resume with"):
        pin_detector(TrainConfig(task="grasp the red object", detector_path=str(tmp_path)),
                     run, resume=True)


def test_no_early_stop_before_min_env_steps(tmp_path, tiny_detector) -> None:
    """A run that meets its early-stop target at once (target 0) stops at the first curve
    point; with min_env_steps it keeps collecting until it has that many env steps."""
    from experiments.collect_infer.config import TrainConfig
    from experiments.collect_infer.loop import train
    from experiments.collect_infer.rundir import RunDir

    cfg = TrainConfig(task="grasp the red object", detector="oracle",
                      detector_path=str(tiny_detector), max_env_steps=100_000, eval_every=20,
                      target_success=0.0, **SMALL_RUN)
    assert train(cfg, RunDir(tmp_path / "a").create(), progress=False)["env_steps"] == 0
    cfg.min_env_steps = 30
    run = RunDir(tmp_path / "b").create()
    kept = train(cfg, run, progress=False)
    confirms = [r["env_steps"] for r in run.records("confirm")]
    assert 30 <= kept["env_steps"] <= 30 + 2 * 4 * cfg.horizon  # one more round or two at most
    assert confirms == [kept["env_steps"]]  # no confirmation was even tried before 30


def test_two_overlapping_ray_actors_lose_and_repeat_no_round(tmp_path, tiny_detector) -> None:
    """With 2 Ray actors the next round is collected while the learner trains. Every round
    collected is committed once and counted, also the one in flight when an early stop hits."""
    ray = pytest.importorskip("ray")
    from experiments.collect_infer.config import TrainConfig
    from experiments.collect_infer.loop import train
    from experiments.collect_infer.rundir import RunDir

    run = RunDir(tmp_path / "run").create()
    cfg = TrainConfig(task="grasp the red object", detector="oracle", actors=2,
                      detector_path=str(tiny_detector), max_env_steps=20, eval_every=60,
                      target_success=None, **SMALL_RUN)
    try:
        first = train(cfg, run, progress=False)
        assert first["env_steps"] == sum(r["T"] for r in _manifest(run.root)) >= 20
        # resumed with a target every eval meets: it stops at the next curve point (60 env
        # steps), while a round is already in the actors' hands
        cfg.max_env_steps, cfg.target_success = 100_000, 0.0
        result = train(cfg, RunDir(run.root), resume=True, progress=False)
    finally:
        ray.shutdown()
    episodes = _manifest(run.root)
    rounds = [json.loads(x) for x in (run.root / "metrics.jsonl").read_text().splitlines()
              if '"kind": "round"' in x]
    assert result["env_steps"] == sum(r["T"] for r in episodes)
    assert result["episodes"] == len(episodes) > rounds[-1]["episodes"]  # the one in flight
    seeds = [r["meta"]["seed"] for r in episodes]
    assert seeds == list(range(seeds[0], seeds[0] + len(seeds)))  # none lost, none twice


def test_ctrl_c_stops_a_ray_run_after_its_round_and_keeps_it(tmp_path, tiny_detector) -> None:
    """SIGINT ends a 2-actor run (it used to be lost there and the run went on): exit 130,
    a clear message, and the rounds collected are all committed."""
    pytest.importorskip("ray")
    run = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "experiments.cli", "train", "--task", "grasp the red object",
         "--detector", "oracle", "--detector-path", str(tiny_detector), "--actors", "2",
         "--run-dir", str(run), "--max-env-steps", "100000", "--target-success", "2",
         "--no-video"], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while len(_manifest(run)) < 16 and time.time() < deadline:
        time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=180)
    finally:
        proc.kill()
    assert proc.returncode == 130, err[-2000:]
    assert "interrupted: finishing this round" in err and "langstack: interrupted" in err
    episodes = _manifest(run)
    assert len(episodes) >= 16 and len(episodes) % 16 == 0  # whole rounds, none half-stored
