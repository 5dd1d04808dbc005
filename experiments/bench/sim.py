"""Our world side by side with panda-gym's PandaStack-v3 (``langstack bench sim``).

Both at 128x128 with the TinyRenderer, in one run on this machine:
- bare physics steps/s: stepping each world's physics client with no control code, scene at
  rest;
- physics steps/s inside the env: physics steps executed by ``env.step`` over its wall time
  (ours: pick/place primitives without rendering; panda-gym: 20 substeps per step);
- ours also: the same physics steps' rate counting only the time inside ``stepSimulation``
  (``stepping_only_physics_steps_per_s``): bare stepping of exactly the workload the env ran.
- primitive actions/s (ours) and env steps/s (panda-gym);
- render fps: one 128x128 camera image.
``physics_overhead`` = stepping-only rate / inside-env rate on that same workload: what our
env code (IK, motor commands, state reads, predicates) adds over bare physics stepping
(1.0 = nothing). A scene at rest steps faster than one with an arm squeezing a cube, so the
at-rest figure is reported beside it but is not the overhead.
"""
from __future__ import annotations

import time
from importlib.util import find_spec
from typing import Any, Callable

import numpy as np

IMAGE_SIZE = 128


def compare(seconds: float, episodes: int) -> dict[str, Any]:
    """Both worlds' figures (``ours``, ``panda_gym``) and their ``ratios``.

    Each rate is measured for about ``seconds`` of wall time; our primitive figures over
    ``episodes`` episodes. Raises ValueError for ``seconds <= 0`` or ``episodes < 1``.
    """
    if seconds <= 0:
        raise ValueError(f"seconds must be > 0, got {seconds}")
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    ours = bench_ours(seconds, episodes)
    theirs = bench_panda_gym(seconds)
    return {"ours": ours, "panda_gym": theirs, "ratios": {
        "render_fps_vs_panda_gym": ours["render_fps"] / theirs["render_fps"],
        "physics_overhead": ours["stepping_only_physics_steps_per_s"]
        / ours["env_physics_steps_per_s"],
    }, "image_size": IMAGE_SIZE, "renderer": "TinyRenderer"}


def panda_gym_available() -> bool:
    """Whether panda-gym and gymnasium are installed (found without importing them)."""
    return all(find_spec(name) is not None for name in ("gymnasium", "panda_gym"))


def _rate(fn: Callable[[], int], seconds: float) -> float:
    """Units per second of ``fn`` (which returns how many units it did) over ~``seconds``."""
    fn()  # warm up
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        done += fn()
    return done / (time.perf_counter() - start)


def bench_ours(seconds: float, episodes: int) -> dict[str, float]:
    """Our world: bare physics, physics inside primitives, primitives/s, render fps."""
    from sim import EnvConfig, make_env
    from sim.expert import random_expert_action

    env = make_env("stack all three objects", EnvConfig(render=False, horizon=8))
    env.reset(seed=0)
    bullet, camera = env.world.bullet, env.config.visual.cameras[0]

    def bare() -> int:
        bullet.step(100)
        return 100

    bare_rate = _rate(bare, seconds)
    render_fps = _rate(lambda: (bullet.render(camera, IMAGE_SIZE), 1)[1], seconds)
    rng = np.random.default_rng(0)
    steps = physics = 0
    elapsed = stepping = 0.0
    for ep in range(episodes):
        env.reset(seed=ep)
        for _ in range(8):
            action = random_expert_action(env, rng)
            before, inside = bullet.physics_steps, bullet.physics_seconds
            start = time.perf_counter()
            env.step(action)
            elapsed += time.perf_counter() - start
            physics += bullet.physics_steps - before
            stepping += bullet.physics_seconds - inside
            steps += 1
    env.close()
    return {"bare_physics_steps_per_s": bare_rate, "env_physics_steps_per_s": physics / elapsed,
            "stepping_only_physics_steps_per_s": physics / stepping,
            "primitive_actions_per_s": steps / elapsed, "physics_steps_per_action": physics / steps,
            "render_fps": render_fps}


def bench_panda_gym(seconds: float) -> dict[str, float]:
    """panda-gym's PandaStack-v3 at the same image size and renderer.

    Raises ImportError if panda-gym is not installed (see :func:`panda_gym_available`).
    """
    import gymnasium as gym
    import panda_gym  # noqa: F401  (registers the ids)

    from sim.bullet import silenced

    with silenced(1):  # panda-gym's client prints its argv on stdout
        env = gym.make("PandaStack-v3", render_mode="rgb_array", renderer="Tiny",
                       render_width=IMAGE_SIZE, render_height=IMAGE_SIZE)
    env.reset(seed=0)
    sim = env.unwrapped.sim
    substeps = sim.n_substeps

    def bare() -> int:
        sim.step()
        return substeps

    def env_step() -> int:
        env.step(env.action_space.sample())
        return 1

    bare_rate = _rate(bare, seconds)
    env_rate = _rate(env_step, seconds)
    render_fps = _rate(lambda: (env.render(), 1)[1], seconds)
    env.close()
    return {"bare_physics_steps_per_s": bare_rate, "env_physics_steps_per_s": env_rate * substeps,
            "env_steps_per_s": env_rate, "render_fps": render_fps}
