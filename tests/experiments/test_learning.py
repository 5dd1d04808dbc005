"""Collect & Infer learns: a short Grasp red run clearly beats the uniform random policy."""
from __future__ import annotations

import numpy as np

from experiments.collect_infer.config import TrainConfig
from experiments.collect_infer.loop import train
from sim.seeds import FINAL
from experiments.collect_infer.rundir import RunDir
from sim import EnvConfig, make_env
from tests.experiments.test_train_resume import tiny_detector  # noqa: F401  (fixture)


def _random_policy_success(seeds: list[int]) -> float:
    env = make_env("grasp the red object", EnvConfig(render=False))
    rng, wins = np.random.default_rng(0), 0
    for s in seeds:
        env.reset(seed=s)
        for _ in range(env.config.horizon):
            _, reward, terminated, truncated, _ = env.step(
                rng.uniform(env.config.workspace.low, env.config.workspace.high))
            if terminated or truncated:
                break
        wins += int(reward)
    env.close()
    return wins / len(seeds)


def test_grasp_red_beats_the_random_policy_within_a_short_run(tmp_path, tiny_detector) -> None:
    cfg = TrainConfig(task="grasp the red object", detector="oracle", max_env_steps=600,
                      eval_every=10_000, final_eval_episodes=30, target_success=None,
                      video=False, detector_path=str(tiny_detector), seed=1)
    result = train(cfg, RunDir(tmp_path / "run").create(), progress=False)
    final_seeds = FINAL.seeds(cfg.seed, 30)
    random_rate = _random_policy_success(final_seeds)
    assert result["env_steps"] >= 600
    assert result["eval_success_rate"] >= 0.7
    assert result["eval_success_rate"] >= random_rate + 0.3, (result, random_rate)
