"""Evaluating a trained run: greedy episodes on fresh seeds, for its task or another one."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from experiments.actors import Actor, ActorSpec
from experiments.loop import TrainConfig, _plan_and_goals, _weights
from experiments.rundir import RunDir


def evaluate_run(run_dir: Path, task: str | None, episodes: int, seed: int,
                 progress: bool = True) -> dict[str, Any]:
    """Success rate of the run's latest policy over ``episodes`` fresh greedy episodes."""
    from policy.checkpoint import load_policy

    run = RunDir(run_dir)
    saved = run.read_config()
    cfg = replace(TrainConfig(**saved["train"]), task=task or saved["train"]["task"])
    plan, goals, detector_path = _plan_and_goals(cfg)
    policy = load_policy(run.checkpoint)
    spec = ActorSpec(cfg.task, tuple(plan), goals, saved["policy"],
                     "none" if cfg.agent == "baseline" else cfg.detector, detector_path,
                     cfg.horizon, explore_eps=0.0)
    actor = Actor(spec, 0)
    actor.set_weights(_weights(policy))
    seeds = [seed * 1_000_003 + i for i in range(episodes)]
    wins = [actor.evaluate([s], None)[0]
            for s in tqdm(seeds, desc="eval", unit="episode", disable=not progress)]
    actor.close()
    return {"task": cfg.task, "episodes": episodes, "success_rate": float(np.mean(wins)),
            "plan": plan, "planner": cfg.planner, "run_dir": str(run.root)}
