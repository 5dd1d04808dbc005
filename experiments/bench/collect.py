"""Collect & Infer collection throughput (``langstack bench collect``).

Per mode, in one run: frames + detector (both cameras rendered and embedded by the CLIP
detector, as in training) and state-only (the oracle reads the simulator, nothing is
rendered). Each mode runs the same exploring episodes (an untrained policy, so every episode
lasts the horizon) with 1 actor in-process and with N Ray actors (a private local Ray, or the
cluster ``--ray-address`` names, spread over its nodes), after a warm-up round, and
reports env steps/s of collection alone (no learning), and how many CPU cores the actors
kept busy meanwhile (CPU seconds / wall seconds: below N, the actors waited for a CPU that
other work on the machine held). The 1-actor run is profiled: physics steps per env step and
the share of each stage. ``against`` measures another checkout of
langstack (e.g. the code before a change, from a git worktree) in a subprocess, in the same run.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from experiments.bench.stages import bare_physics_rate, profile_actor
from experiments.collect_infer.detectors import read_blob

DETECTORS = ("clip", "oracle")
"""clip renders both cameras and embeds them, as in training; oracle reads the simulator."""
MODES = {"clip": "frames+detector", "oracle": "state-only"}


def measure(actors: Sequence[int], episodes: int, detectors: Sequence[str] = DETECTORS,
            against: Path | None = None, floor_seconds: float = 3.0,
            ray_address: str | None = None) -> dict[str, Any]:
    """Env steps/s per actor count and mode, the 1-actor profile, the bare-physics floor and
    (with ``against``) the same 1-actor figures of another langstack checkout. The N-actor
    pools run on the Ray cluster at ``ray_address`` (checked; None: a private local Ray).

    Raises ValueError for actor counts without 1 or below 1, ``episodes < 1``, an unknown
    detector, or ``against`` that is not a langstack checkout.
    """
    if 1 not in actors:
        raise ValueError("actor counts must include 1 (the reference)")
    if min(actors) < 1 or episodes < 1:
        raise ValueError(f"actor counts and episodes must be >= 1, got {list(actors)}, "
                         f"{episodes}")
    unknown = [d for d in detectors if d not in DETECTORS]
    if unknown or not detectors:
        raise ValueError(f"detectors must be among {DETECTORS}, got {list(detectors)}")
    if against is not None:
        check_checkout(against)
    modes = {}
    for detector in detectors:
        spec, weights = _spec(detector)  # the detector is loaded once per mode
        blob = read_blob(spec.detector, spec.detector_path)  # and read once for Ray actors
        profile = _profile(spec, weights, episodes)
        rates, nodes, cores = {1: profile["env_steps_per_s"]}, {1: 1}, {1: profile["cores_busy"]}
        for n in sorted(set(actors) - {1}):
            rates[n], nodes[n], cores[n] = _pool_rate(n, spec, weights, episodes, ray_address,
                                                      blob)
        mode = {"detector": detector, "env_steps_per_s": {str(n): r for n, r in rates.items()},
                "speedup_vs_1": {str(n): r / rates[1] for n, r in rates.items()},
                "nodes": {str(n): k for n, k in nodes.items()},
                "cores_busy": {str(n): c for n, c in cores.items()},
                "env_steps_per_cpu_s": {str(n): rates[n] / cores[n] for n in rates},
                "physics_steps_per_env_step": profile["physics_steps_per_env_step"],
                "stage_share": profile["stage_share"]}
        if against is not None:
            old = other_checkout_rate(against, episodes, detector)
            mode["against"] = {"checkout": str(against), "env_steps_per_s": old,
                               "ratio": rates[1] / old}
        modes[MODES[detector]] = mode
    floor = bare_physics_rate(floor_seconds)
    pps = next(iter(modes.values()))["physics_steps_per_env_step"]
    return {"episodes": episodes, "modes": modes,
            "floor": {"bare_physics_steps_per_s": floor,
                      "env_steps_per_s_physics_only": floor / pps}}


def check_checkout(path: Path) -> None:
    """ValueError unless ``path`` is a langstack source tree (sim/ and experiments/ in it)."""
    if not ((path / "sim" / "__init__.py").is_file() and (path / "experiments").is_dir()):
        raise ValueError(f"--against: {path} is not a langstack checkout (no sim/ and "
                         "experiments/ in it); make one with: git worktree add DIR COMMIT")


def other_checkout_rate(path: Path, episodes: int, detector: str) -> float:
    """1-actor env steps/s of the checkout at ``path``, measured by its own
    ``bench collect`` in a subprocess (its code first on the path, this interpreter)."""
    inherited = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(path.resolve()), *inherited])}
    cmd = [sys.executable, "-m", "experiments.cli", "bench", "collect", "--actors", "1",
           "--episodes", str(episodes), "--detector", detector, "--json"]
    proc = subprocess.run(cmd, cwd=path, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"bench collect in {path} failed (exit {proc.returncode}): {tail}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    if "modes" in result:  # a checkout with this module's output
        return float(result["modes"][MODES[detector]]["env_steps_per_s"]["1"])
    return float(result["env_steps_per_s"]["1"])  # before per-mode output


def _spec(detector: str) -> tuple[Any, dict[str, np.ndarray]]:
    """The actor spec of the benchmark (Triple Stack, untrained policy) and its weights."""
    from experiments.collect_infer.actors import ActorSpec
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
                     goals, asdict(config),
                     detector, None, horizon=10, explore_eps=0.1)
    return spec, weights


def _profile(spec: Any, weights: dict[str, np.ndarray], episodes: int) -> dict[str, Any]:
    """One in-process actor, warmed up, then profiled over ``episodes`` episodes."""
    from experiments.collect_infer.actors import Actor
    from sim.seeds import BENCH

    actor = Actor(spec, 0)
    try:
        actor.collect(BENCH.seeds(0, 1), weights, {})  # warm-up: env, detector, policy built
        cpu, start = actor.cpu_seconds(), time.perf_counter()
        profile = profile_actor(actor, BENCH.seeds(1, episodes), weights)
        cores = (actor.cpu_seconds() - cpu) / (time.perf_counter() - start)
        return {**profile, "cores_busy": cores}
    finally:
        actor.close()


def _pool_rate(n: int, spec: Any, weights: dict[str, np.ndarray], episodes: int,
               ray_address: str | None, blob: Any) -> tuple[float, int, float]:
    """Env steps/s of ``n`` Ray actors collecting ``episodes`` episodes after a warm-up
    round, how many nodes the actors ran on, and how many CPU cores they kept busy."""
    import ray

    from experiments.collect_infer.actors import ActorPool
    from sim.seeds import BENCH

    pool = None
    try:
        pool = ActorPool(spec, n, ray_address, detector_blob=blob)
        pool.collect(BENCH.seeds(0, n), weights, {})
        cpu, start = sum(pool.cpu_seconds()), time.perf_counter()
        rollouts = pool.collect(BENCH.seeds(1, episodes), weights, {})
        elapsed = time.perf_counter() - start
        cores = (sum(pool.cpu_seconds()) - cpu) / elapsed
        nodes = len({w["node"] for w in pool.where()})
    finally:
        if pool is not None:
            pool.close()
        ray.shutdown()
    return sum(r.episode.T for r in rollouts) / elapsed, nodes, cores
