"""Evaluating a trained run: greedy episodes on fresh seeds, for its task or another one.

Another task is skill scheduling: the planner decomposes the new instruction into sub-goal
captions and the run's policy pursues each one until the detector confirms it, then the next.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from experiments.collect_infer.actors import Actor, ActorSpec
from experiments.collect_infer.config import TrainConfig
from experiments.collect_infer.prepare import plan_and_goals, policy_weights
from experiments.collect_infer.video import record_video
from experiments.collect_infer.rundir import RunDir
from sim.seeds import EVAL, SeedRange



def load_run_policy(run_dir: Path, task: str | None) -> tuple[ActorSpec, Any, TrainConfig]:
    """The run's latest policy and a greedy actor spec for ``task`` (default: the run's)."""
    from policy.checkpoint import load_policy

    run = RunDir(run_dir)
    saved = run.read_config()
    cfg = replace(TrainConfig(**saved["train"]), task=task or saved["train"]["task"])
    plan, goals, detector_path = plan_and_goals(cfg)
    spec = ActorSpec(cfg.task, tuple(plan), goals, saved["policy"],
                     "none" if cfg.agent == "baseline" else cfg.detector, detector_path,
                     cfg.horizon, explore_eps=0.0)
    return spec, load_policy(run.checkpoint), cfg


def evaluate_run(run_dir: Path, task: str | None, episodes: int, seed: int,
                 progress: bool = True, video: Path | None = None,
                 seed_range: SeedRange = EVAL) -> dict[str, Any]:
    """Success rate of the run's latest policy over ``episodes`` fresh greedy episodes from
    block ``seed`` of ``seed_range`` (and, with ``video``, an mp4/gif of the first two)."""
    spec, policy, cfg = load_run_policy(run_dir, task)
    actor = Actor(spec, 0)
    actor.set_weights(policy_weights(policy))
    seeds = seed_range.seeds(seed, episodes)
    wins = [actor.evaluate([s], None)[0]
            for s in tqdm(seeds, desc=f"eval {cfg.task!r}", unit="episode", disable=not progress)]
    result = {"task": cfg.task, "episodes": episodes, "success_rate": float(np.mean(wins)),
              "plan": list(spec.plan), "planner": cfg.planner, "run_dir": str(run_dir)}
    if video is not None:  # the actor's detector: loading it again costs seconds
        result["video"] = str(record_video(spec, policy, video, seeds[:2], actor.detector))
    actor.close()
    return result
