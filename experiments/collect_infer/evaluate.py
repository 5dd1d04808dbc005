"""Evaluating a trained run: greedy episodes on fresh seeds, for its task or another one.

Another task is skill scheduling: the planner decomposes the new instruction into sub-goal
captions and the run's policy pursues each one until the detector confirms it, then the next.
"""
from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from tqdm import tqdm

from experiments.collect_infer.actors import Actor, ActorSpec
from experiments.collect_infer.config import ConfigError, TrainConfig
from experiments.collect_infer.prepare import (
    check_inputs, check_safetensors, plan_and_goals, policy_weights,
)
from experiments.collect_infer.video import record_video
from experiments.collect_infer.rundir import RunDir
from experiments.collect_infer.tasks import task_for
from sim.seeds import EVAL, SeedRange


def check_run(run_dir: Path, tasks: Sequence[str] = ()) -> TrainConfig:
    """A trained run that can act on ``tasks`` (default: its own), checked before any work:
    its config, its checkpoint, its detector and the planner's plans. Returns its config."""
    run = RunDir(Path(run_dir))
    cfg = run.train_config()
    check_checkpoint(run)
    for task in tasks or (cfg.task,):
        check_inputs(replace(cfg, task=task, also=()))
    return cfg


def check_checkpoint(run: RunDir) -> None:
    """The run has a policy checkpoint with a readable config and complete weights."""
    from policy.checkpoint import WEIGHTS_FILE, load_config

    if not run.checkpoint.is_dir():
        raise FileNotFoundError(f"the run has no policy checkpoint yet (train it first): {run.root}")
    load_config(run.checkpoint)
    if not (run.checkpoint / WEIGHTS_FILE).is_file():
        raise FileNotFoundError(f"the run's checkpoint has no {WEIGHTS_FILE}: {run.checkpoint}")
    check_safetensors(run.checkpoint / WEIGHTS_FILE)


def load_run_policy(run_dir: Path, task: str | None) -> tuple[ActorSpec, Any, TrainConfig]:
    """The run's latest policy and a greedy actor spec for ``task`` (default: the run's),
    acting as the run was evaluated (its ``set_down_greedy``). For its own task the plan the
    run learned (its config.json) is pursued, not planned again."""
    from policy.checkpoint import load_policy

    run = RunDir(run_dir)
    cfg = run.train_config()
    own = task is None or task == cfg.task
    cfg = replace(cfg, task=task or cfg.task)
    policy = load_policy(run.checkpoint)  # before the detector: a bad checkpoint fails fast
    plan, goals, detector_path = plan_and_goals(cfg, stored_plan(run) if own else None)
    goal_dim = len(next(iter(goals.values())))
    if goal_dim != policy.config.goal_dim:
        raise ValueError(f"the policy of {run_dir} takes {policy.config.goal_dim}-d goals, but "
                         f"its detector ({detector_path}) gives {goal_dim}-d text embeddings")
    spec = ActorSpec(task_for(cfg.task, cfg.planner), tuple(plan), goals, asdict(policy.config),
                     "none" if cfg.agent == "baseline" else cfg.detector, detector_path,
                     cfg.horizon, explore_eps=0.0, set_down_greedy=cfg.set_down_greedy)
    return spec, policy, cfg


def stored_plan(run: RunDir) -> list[str] | None:
    """The plan a framework run learned (its config.json "plan"; None for the baseline, whose
    one goal is its task, or a run that stored none or an empty one). ConfigError if it is not
    a list of vocabulary captions."""
    from perception.captions import CAPTIONS

    config = run.read_config()
    plan = config.get("plan")
    if config["train"].get("agent") == "baseline" or plan in (None, []):
        return None
    if not isinstance(plan, list) or any(c not in CAPTIONS for c in plan):
        raise ConfigError(f"{run.config_path}: its \"plan\" is not a list of sub-goal captions "
                          f"({str(plan):.80})")
    return plan


def planner_that_ran(run_dir: Path) -> str:
    """The planner a run's plan came from ("grammar", "flan-t5"; its setting, e.g. "auto", for
    runs made before this was recorded)."""
    config = RunDir(Path(run_dir)).read_config()
    return (config.get("identity") or {}).get("planner") or config["train"].get("planner", "?")


def evaluate_run(run_dir: Path, task: str | None, episodes: int, seed: int,
                 progress: bool = True, video: Path | None = None,
                 seed_range: SeedRange = EVAL) -> dict[str, Any]:
    """Success rate of the run's latest policy over ``episodes`` fresh greedy episodes from
    block ``seed`` of ``seed_range`` (and, with ``video``, an mp4/gif of the first two)."""
    own_task = RunDir(Path(run_dir)).train_config().task
    spec, policy, cfg = load_run_policy(run_dir, task)
    actor = Actor(spec, 0)
    actor.set_weights(policy_weights(policy))
    seeds = seed_range.seeds(seed, episodes)
    wins = [actor.evaluate([s], None)[0]
            for s in tqdm(seeds, desc=f"eval {cfg.task!r}", unit="episode", disable=not progress)]
    result = {"task": cfg.task, "episodes": episodes, "success_rate": float(np.mean(wins)),
              "plan": list(spec.plan),
              "planner": planner_that_ran(run_dir) if cfg.task == own_task else cfg.planner,
              "run_dir": str(run_dir)}
    if video is not None:  # the actor's detector: loading it again costs seconds
        result["video"] = str(record_video(spec, policy, video, seeds[:2], actor.detector))
    actor.close()
    return result
