"""``langstack bench collect``: Collect & Infer collection throughput with 1 and N actors.

Each configuration runs the same exploring episodes (an untrained policy, so every episode
lasts the horizon) with ``--actors 1`` in-process and with N Ray actors, and reports env
steps per second of collection alone (no learning), measured after a warm-up round.
"""
from __future__ import annotations

import argparse
import time
from dataclasses import asdict

import numpy as np

from experiments.cli.util import UsageError, add_json_flag, emit, positive_int


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--actors", type=positive_int, nargs="+", default=[1, 2],
                   help="actor counts to compare (default: 1 2)")
    p.add_argument("--episodes", type=positive_int, default=24,
                   help="episodes per measurement (default 24)")
    p.add_argument("--detector", choices=("clip", "oracle"), default="clip",
                   help="clip renders both cameras and embeds them, as in training (default)")
    add_json_flag(p)


def run(args: argparse.Namespace) -> int:
    if 1 not in args.actors:
        raise UsageError("--actors must include 1 (the reference)")
    rates = {n: _rate(n, args.episodes, args.detector) for n in sorted(set(args.actors))}
    result = {"detector": args.detector, "episodes": args.episodes,
              "env_steps_per_s": {str(n): r for n, r in rates.items()},
              "speedup_vs_1": {str(n): r / rates[1] for n, r in rates.items()}}
    human = "\n".join(f"{n} actor(s): {r:6.1f} env steps/s  ({r / rates[1]:.2f}x)"
                      for n, r in rates.items())
    emit(result, args.json, human)
    return 0


def _rate(n: int, episodes: int, detector: str) -> float:
    from experiments.collect_infer.actors import ActorPool, ActorSpec
    from experiments.collect_infer.prepare import action_bounds, policy_weights
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
    spec = ActorSpec(task, tuple(make_planner("grammar").plan(task)), goals, asdict(config),
                     detector, None, horizon=10, explore_eps=0.1)
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
