"""What the learner sees of the world, measured on fixed scenes: a probe any langstack checkout
can run (``python world_probe.py N`` with that checkout first on ``PYTHONPATH``).

It uses only ``sim``'s public API, so the code before and after a change to the physics is
measured on the same scenes with the same random actions (one generator per sample), and the
counts can be compared pair for pair. ``langstack bench world`` runs it here and, with
``--against``, in another checkout; ``tests/sim/test_world.py`` pins the counts.

Measured on ``n`` scenes each:
- the scripted expert's success per task family and its steps;
- stack stability: the expert's Triple Stack tower, then 2 simulated seconds untouched;
- the uniform random policy's stage probabilities (a random pick grasps red; a random place
  puts held green on blue; with green on blue, a random pick grasps red or green; holding red
  with green on blue, a random place puts it on green), from which the sparseness of Stack and
  Triple Stack is estimated;
- Grasp red's sparseness measured directly: random actions for ``n`` episodes of 10 steps.
"""
from __future__ import annotations

import json
import os
import sys
from typing import Any, Callable

import numpy as np

SCENE_BASE = 7 * 10 ** 12
"""Scene seeds: the start of ``sim.seeds.SPARSITY`` (written out: older checkouts lack it)."""
FAMILIES = ("grasp the red object", "stack the red object on top of the blue object",
            "stack all three objects")
STAGES = ("pick", "place", "pick_free_with_stack", "pick_top_with_stack", "place_on_stack")
SETTLE_S = 2.0


def probe(n: int) -> dict[str, Any]:
    """All the counts, on scenes ``SCENE_BASE + i`` for ``i < n``."""
    return {"n": n, "expert": {f: _expert(f, n) for f in FAMILIES}, "stable": _stable(n),
            "stages": _stages(n), "grasp_random": _grasp_random(n)}


def _env(instruction: str, horizon: int = 10) -> Any:
    from sim import EnvConfig, make_env

    return make_env(instruction, EnvConfig(render=False, horizon=horizon))


def _episodes(env: Any, n: int, first_scene: int,
              policy: Callable[[int], Callable[[], Any]]) -> dict[str, int]:
    """Successes and env steps of ``n`` episodes on scenes ``first_scene + i``, acting with
    ``policy(i)()`` at every step of episode ``i``."""
    wins, steps = 0, 0
    for i in range(n):
        env.reset(seed=first_scene + i)
        act = policy(i)
        for _ in range(env.config.horizon):
            _, reward, terminated, truncated, _ = env.step(act())
            steps += 1
            if terminated or truncated:
                break
        wins += int(reward)
    env.close()
    return {"successes": wins, "steps": steps}


def _expert(instruction: str, n: int) -> dict[str, int]:
    from sim.expert import expert_action

    env = _env(instruction)
    return _episodes(env, n, SCENE_BASE, lambda i: lambda: expert_action(env))


def _stable(n: int) -> dict[str, int]:
    """Towers the expert finished that still stand after SETTLE_S untouched."""
    from sim.bullet import TIMESTEP
    from sim.expert import expert_action

    env, built, standing = _env("stack all three objects"), 0, 0
    for i in range(n):
        env.reset(seed=SCENE_BASE + i)
        for _ in range(env.config.horizon):
            if env.step(expert_action(env))[2]:
                break
        if not env.task.success(env.scene().predicates):
            continue
        built += 1
        env.world.bullet.step(round(SETTLE_S / TIMESTEP))
        standing += int(env.task.success(env.scene().predicates))
    env.close()
    return {"built": built, "standing": standing}


def _stages(n: int) -> dict[str, list[int]]:
    """[hits, trials] of each stage in STAGES."""
    from sim.expert import expert_action

    env = _env("stack all three objects", horizon=100)
    low, high = env.config.workspace.low, env.config.workspace.high
    counts = {s: [0, 0] for s in STAGES}

    def hit(stage: str, rng: np.random.Generator, check: Any) -> None:
        info = env.step(rng.uniform(low, high))[4]
        counts[stage][0] += int(check(info))
        counts[stage][1] += 1

    def setup(i: int, expert_steps: int) -> None:
        env.reset(seed=SCENE_BASE + i)
        for _ in range(expert_steps):
            env.step(expert_action(env))

    for i in range(n):
        rng = np.random.default_rng(i)
        setup(i, 0)
        hit("pick", rng, lambda info: info["held"] == "red")
        setup(i, 1)  # the expert holds green (its tower: blue, green, red)
        hit("place", rng, lambda info: info["predicates"]["on_top(green,blue)"])
        setup(i, 2)
        if env.scene().predicates["on_top(green,blue)"]:
            held = env.step(rng.uniform(low, high))[4]["held"]
            for stage, cube in (("pick_free_with_stack", "red"), ("pick_top_with_stack", "green")):
                counts[stage][0] += int(held == cube)
                counts[stage][1] += 1
        setup(i, 3)
        if env.scene().held == "red" and env.scene().predicates["on_top(green,blue)"]:
            hit("place_on_stack", rng, lambda info: info["predicates"]["on_top(red,green)"])
    env.close()
    return counts


def _grasp_random(n: int) -> dict[str, int]:
    env = _env("grasp the red object")
    low, high = env.config.workspace.low, env.config.workspace.high

    def policy(i: int) -> Callable[[], Any]:
        rng = np.random.default_rng(10 ** 6 + i)
        return lambda: rng.uniform(low, high)

    return _episodes(env, n, SCENE_BASE + 10 ** 6, policy)


if __name__ == "__main__":
    # Run by path, this file's folder comes first on sys.path, where experiments/bench/sim.py
    # would shadow the sim package: the checkout under test must supply it.
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    print(json.dumps(probe(int(sys.argv[1]))))
