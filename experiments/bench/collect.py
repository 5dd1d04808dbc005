"""Collect & Infer collection throughput with 1 and N actors (``langstack bench collect``).

Each configuration runs the same exploring episodes (an untrained policy, so every episode
lasts the horizon) with 1 actor in-process and with N Ray actors, and reports env steps per
second of collection alone (no learning), measured after a warm-up round.
"""
from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any, Sequence

import numpy as np

DETECTORS = ("clip", "oracle")
"""clip renders both cameras and embeds them, as in training; oracle reads the simulator."""


def measure(actors: Sequence[int], episodes: int, detector: str) -> dict[str, Any]:
    """Env steps/s of collecting ``episodes`` episodes with each actor count, and the
    speed-up over 1 actor (the reference, so ``actors`` must include 1).

    Raises ValueError for actor counts without 1 or below 1, ``episodes < 1`` or a detector
    not in :data:`DETECTORS`.
    """
    if 1 not in actors:
        raise ValueError("actor counts must include 1 (the reference)")
    if min(actors) < 1 or episodes < 1:
        raise ValueError(f"actor counts and episodes must be >= 1, got {list(actors)}, "
                         f"{episodes}")
    if detector not in DETECTORS:
        raise ValueError(f"detector must be one of {DETECTORS}, got {detector!r}")
    rates = {n: _rate(n, episodes, detector) for n in sorted(set(actors))}
    return {"detector": detector, "episodes": episodes,
            "env_steps_per_s": {str(n): r for n, r in rates.items()},
            "speedup_vs_1": {str(n): r / rates[1] for n, r in rates.items()}}


def _rate(n: int, episodes: int, detector: str) -> float:
    """Env steps/s of ``n`` actors collecting ``episodes`` episodes after a warm-up round."""
    from experiments.collect_infer.actors import ActorPool, ActorSpec
    from experiments.collect_infer.prepare import action_bounds, policy_weights
    from experiments.collect_infer.tasks import task_for
    from perception.captions import CAPTIONS
    from planner import make_planner
    from policy.model import PolicyConfig, make_policy

    task = "stack all three objects"
    low, high = action_bounds()
    if detector == "clip":
        from perception import load_detector

        text = load_detector(None, build_if_missing=True).text_embeddings(list(CAPTIONS))
    else:
        text = np.eye(len(CAPTIONS), 16, dtype=np.float32)
    goals = dict(zip(CAPTIONS, text.astype(np.float32)))
    config = PolicyConfig(goal_dim=text.shape[1], action_low=low, action_high=high, dropout=0.0)
    weights = policy_weights(make_policy(config, seed=0))
    spec = ActorSpec(task_for(task, "grammar"), tuple(make_planner("grammar").plan(task)),
                     goals, asdict(config), detector, None, horizon=10, explore_eps=0.1)
    pool = ActorPool(spec, n)
    try:
        pool.collect(list(range(n)), weights, {})  # warm-up: env, detector and policy built
        start = time.perf_counter()
        rollouts = pool.collect(list(range(1000, 1000 + episodes)), weights, {})
        elapsed = time.perf_counter() - start
    finally:
        pool.close()
    if n > 1:
        import ray

        ray.shutdown()
    return sum(r.episode.T for r in rollouts) / elapsed
