"""``langstack reproduce peers``: every learner on one task, evaluated alike, resumable."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from experiments.paper.grid import default_grid, parse_grid
from experiments.paper.peers import (
    AGENTS, Job, PeersConfig, fixed_jobs, tuned_jobs, tuning_jobs,
)
from experiments.paper.peers_runs import seeds_for
from tests.experiments.test_train_resume import SMALL_RUN, tiny_detector  # noqa: F401

pytest.importorskip("stable_baselines3")
pytest.importorskip("sb3_contrib")

GRASP = "grasp the red object"


@pytest.fixture(scope="module")
def tiny_peers(tmp_path_factory, tiny_detector) -> tuple[Path, dict, list[str]]:
    """A tiny ``reproduce peers`` run through the CLI's entry point (in process, so that the
    tiny detector's model config is known): every agent, tuning included."""
    from experiments.cli import main

    out = tmp_path_factory.mktemp("peers") / "out"
    argv = ["reproduce", "peers", "--tasks", GRASP, "--seeds", "1", "--budget", "30",
            "--grid", "15", "--eval-episodes", "2", "--tune-budget", "10", "--jobs", "1",
            "--out", str(out), "--detector-path", str(tiny_detector), "--json"]
    import contextlib
    import io

    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        assert main(argv) == 0
    return out, json.loads(stdout.getvalue().strip().splitlines()[-1]), argv


def test_tiny_run_reports_every_learner_with_intervals(tiny_peers) -> None:
    out, summary, _ = tiny_peers
    assert (out / "peers.png").stat().st_size > 1000
    assert "| Grasp red | TQC + HER" in (out / "peers.md").read_text()
    stored = json.loads((out / "peers.json").read_text())
    assert stored["summary"] == summary
    (task,) = summary["tasks"]
    assert task["grid"] == [0, 15, 30]
    assert set(task["agents"]) == set(AGENTS)
    for agent, a in task["agents"].items():
        assert [c["point"] for c in a["curve"]] == [0, 15, 30], agent
        for c in a["curve"]:
            assert c["episodes"] == 2 and len(c["wilson95"]) == 2, agent
            assert c["wilson95"][0] <= c["rate"] <= c["wilson95"][1]
        for key in ("steps_to_50", "steps_to_90"):
            assert {"mean", "ci95", "per_seed", "reached"} <= a[key].keys()
        assert a["best"]["wilson95"][0] <= a["best"]["rate"] <= a["best"]["wilson95"][1]
        assert len(a["wall_s"]) == 1 and a["wall_s"][0] > 0
    assert task["agents"]["tqc-her"]["settings"]["gamma"] == 0.95  # stated in the output
    tuned = {(t["agent"], t["candidate"]) for t in summary["tuning"]}
    assert tuned == {("tqc-her", 0), ("tqc-her", 1), ("ppo", 0), ("ppo", 1)}
    assert all(t["budget"] == 10 for t in summary["tuning"])
    assert sum(t["chosen"] for t in summary["tuning"]) == 2


def test_every_learner_gets_the_same_scenes_grid_and_budget(tiny_peers) -> None:
    """The stored runs: the framework's curve was evaluated on the peers' scenes at the grid,
    every SB3 and random run recorded the same grid, budget and eval scenes."""
    from experiments.collect_infer.rundir import RunDir
    from sim.seeds import PEERS

    out, summary, _ = tiny_peers
    runs = {r["agent"]: r for r in json.loads((out / "peers.json").read_text())["runs"]
            if r["candidate"] is None}
    assert set(runs) == set(AGENTS)
    for agent, r in runs.items():
        same = (r["grid"], r["budget"], r["eval_episodes"], r["horizon"])
        assert same == ([0, 15, 30], 30, 2, 10), agent
        assert all(rec["episodes"] == 2 for rec in r["records"]), agent
    for agent in ("framework-clip", "framework-oracle"):
        train = RunDir(Path(runs[agent]["run_dir"])).train_config()
        assert train.eval_at == (0, 15, 30) and train.eval_range == "peers"
        assert train.max_env_steps == 30 and train.eval_episodes == 2
    for agent in ("tqc-her", "ppo"):
        points = [rec["point"] for rec in runs[agent]["records"]]
        assert points == [0, 15, 30] or runs[agent]["records"][-1].get("stop"), agent
        assert runs[agent]["records"][-1]["env_steps"] <= 30  # PPO's rollouts fit the budget
    cfg = PeersConfig(tasks=(GRASP,), seeds=2, budget=30, grid="15", eval_episodes=2)
    jobs = fixed_jobs(cfg, out) + tuned_jobs(cfg, out, "ppo", cfg.task_list()[0], 1)
    for job in jobs:
        assert seeds_for(job).eval == PEERS.seeds(job.seed, 2)
        assert job.grid == (0, 15, 30) and job.budget == 30
    tune = tuning_jobs(cfg, out)
    assert {tuple(seeds_for(j).eval) for j in tune} == {tuple(seeds_for(tune[0]).eval)}
    assert not set(seeds_for(tune[0]).eval) & set(PEERS.seeds(0, 2) + PEERS.seeds(1, 2))


def test_a_rerun_reuses_the_stored_runs_and_refuses_other_settings(tiny_peers, capsys) -> None:
    from experiments.cli import main

    out, summary, argv = tiny_peers
    before = {p: p.stat().st_mtime_ns for p in out.glob("runs/*/peer_curve.jsonl")}
    assert main(argv) == 0  # the same command
    after = {p: p.stat().st_mtime_ns for p in out.glob("runs/*/peer_curve.jsonl")}
    assert before == after and before  # nothing re-ran
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["tasks"] == summary["tasks"]
    other = list(argv)
    other[other.index("--eval-episodes") + 1] = "3"
    assert main(other) == 2
    assert "eval_episodes" in capsys.readouterr().err


def _job(tmp_path: Path, agent: str, grid: tuple[int, ...]) -> Job:
    from experiments.paper.peers_sb3 import base_settings

    settings = {**base_settings(agent, grid[-1]), "learning_starts": 10, "batch_size": 8}
    return Job(agent, GRASP, 0, grid[-1], grid, 2, str(tmp_path / "run"), settings)


def test_an_interrupted_tqc_her_run_resumes_after_its_last_saved_point(tmp_path) -> None:
    """Weights, counters and the HER replay buffer are saved at every point and read back
    (no pickle); a re-run evaluates only the points not done."""
    import numpy as np

    from experiments.paper.peers_runs import prepare_run_dir, read_log, run_job
    from experiments.paper.peers_sb3 import build_model, load_checkpoint, make_env, run_sb3

    job = _job(tmp_path, "tqc-her", (0, 12, 24))
    prepare_run_dir(job)
    calls: list[list[int]] = []

    def interrupted(policy, seeds):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(list(seeds))
        return [False] * len(seeds)

    with pytest.raises(KeyboardInterrupt):
        run_sb3(job, seeds_for(job), interrupted)
    assert [r["point"] for r in read_log(Path(job.run_dir))] == [0, 12]
    model = build_model("tqc-her", make_env("tqc-her", GRASP, 10), job.settings, 0)
    resets = load_checkpoint(model, Path(job.run_dir) / "checkpoint")
    assert model.num_timesteps == 12 and model.replay_buffer.pos == 12 and resets >= 2
    assert model._n_updates > 0  # it learned from the buffer before the save
    assert np.isin(model.replay_buffer.observations["desired_goal"][:12], [0.0, 1.0]).all()
    result = run_job(job)  # the real evaluation for the last point only
    assert [r["point"] for r in result["records"]] == [0, 12, 24]
    assert result["records"][-1]["env_steps"] == 24
    assert calls == [seeds_for(job).eval] * 2


def test_grids_and_settings_are_checked() -> None:
    assert default_grid(300) == (0, 100, 110, 121, 134, 147, 162, 178, 195, 215, 236, 260, 286, 300)
    assert parse_grid("400", 1000) == (0, 400, 800, 1000)
    assert parse_grid("0,50,70", 100) == (0, 50, 70, 100)
    for bad in ("x", "0", "-5", "10,200", "", "1,"):
        with pytest.raises(ValueError, match="--grid"):
            parse_grid(bad, 100)
    for kwargs, needle in (({"agents": ("sac",)}, "agents"), ({"seeds": 0}, "seeds"),
                           ({"budget": 0}, "budget"), ({"grid": "5,x"}, "--grid"),
                           ({"jobs": 65}, "jobs"), ({"budget": 100, "tune_budget": 101}, "tune"),
                           ({"budget": 10 ** 6, "grid": "1"}, "eval points")):
        with pytest.raises(ValueError, match=needle):
            PeersConfig(**kwargs).check()


def test_bad_options_are_one_line_usage_errors(tmp_path) -> None:
    from tests.experiments.conftest import assert_clean_usage_error, langstack

    proc = langstack("reproduce", "peers", "--tasks", GRASP, "--budget", "100", "--grid", "50,x",
                     "--out", str(tmp_path / "out"))
    assert_clean_usage_error(proc, "--grid", "50,x")
    assert not (tmp_path / "out").exists()
