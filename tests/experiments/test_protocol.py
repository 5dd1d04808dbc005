"""One evaluation protocol for every agent of a comparison (issue 25, item 2): the same budget,
the same eval grid, fine enough to read steps to 50% within a tenth, the same scenes per point,
and no scripted helper for one agent only."""
from __future__ import annotations

import dataclasses

import pytest

from experiments.paper.grid import EVAL_EPISODES, GRID_FIRST, default_grid


@pytest.mark.parametrize("budget", [1, 99, 100, 101, 1_000, 3_000, 20_000, 50_000, 10**6])
def test_the_default_grid_reads_any_crossing_within_a_tenth(budget: int) -> None:
    grid = default_grid(budget)
    assert grid[0] == 0 and grid[-1] == budget and list(grid) == sorted(set(grid))
    for before, point in zip(grid[1:], grid[2:]):  # beyond the first point
        assert point - before <= 0.1 * point + 1, (before, point)
    assert len(grid) <= 2 + 150
    if budget > GRID_FIRST:
        assert grid[1] == GRID_FIRST


def test_every_exploration_agent_runs_under_the_same_protocol(tmp_path, monkeypatch) -> None:
    """Framework and baseline of a task get the same budget, grid, scenes per point and
    confirmation, and neither is evaluated with the scripted set-down."""
    import experiments.collect_infer.loop as loop
    from experiments.collect_infer.identity import identity_of
    from experiments.paper.exploration import EXPLORATION_TASKS, run_one

    seen = {}

    def fake_train(cfg, run, resume=False, progress=True):
        seen[cfg.agent] = cfg
        run.write_config({"train": dataclasses.asdict(cfg), "identity": identity_of(cfg)})
        run.log({"kind": "eval", "env_steps": 0, "eval_success_rate": 0.0})
        run.log({"kind": "final", "env_steps": cfg.max_env_steps, "eval_success_rate": 0.0,
                 "steps_to_50": None, "wall_s": 1.0})

    monkeypatch.setattr(loop, "train", fake_train)
    triple = EXPLORATION_TASKS[-1]
    for agent in ("framework", "baseline"):
        run_one(triple, agent, 0, tmp_path, "oracle", 0.95, 1.0, False, lambda m: None)
    framework, baseline = seen["framework"], seen["baseline"]
    same = ("max_env_steps", "eval_at", "eval_episodes", "confirm_episodes",
            "final_eval_episodes", "target_success", "set_down_greedy", "horizon")
    assert {f: getattr(framework, f) for f in same} == {f: getattr(baseline, f) for f in same}
    assert framework.max_env_steps == triple.budget
    assert framework.eval_at == default_grid(triple.budget)
    assert framework.eval_episodes == framework.confirm_episodes == EVAL_EPISODES >= 50
    assert framework.set_down_greedy is False


def test_peers_framework_is_evaluated_without_the_scripted_set_down(tmp_path, monkeypatch) -> None:
    import experiments.collect_infer.loop as loop
    from experiments.paper.peers import PeersConfig, fixed_jobs
    from experiments.paper.peers_runs import run_framework

    seen = []

    def fake_train(cfg, run, resume=False, progress=True):
        seen.append(cfg)

    monkeypatch.setattr(loop, "train", fake_train)
    job = next(j for j in fixed_jobs(PeersConfig(tasks=("grasp the red object",), seeds=1,
                                                    budget=300), tmp_path)
               if j.agent == "framework-oracle")
    run_framework(job, progress=False)
    assert seen and seen[0].set_down_greedy is False
    assert seen[0].eval_at == job.grid and seen[0].eval_episodes == job.eval_episodes
