"""Where one collector's time goes: physics, rendering, detector, IK and policy.

:func:`profile_actor` runs one in-process actor over exploring episodes with timers on its own
objects (the env's physics client, its detector and its agent): nothing outside this process
is touched. Shares are of the wall time of collection; ``other`` is what no timer covered
(state reads, predicates, motor commands, Python).
"""
from __future__ import annotations

import time
from typing import Any, Callable

STAGES = ("physics", "render", "detector", "ik", "policy")


class StageTimer:
    """Accumulates wall time per stage of methods it wraps on given objects."""

    def __init__(self) -> None:
        self.seconds = {s: 0.0 for s in STAGES}

    def wrap(self, obj: Any, method: str, stage: str) -> None:
        """Time every call of ``obj.method`` (an instance attribute shadows the class's)."""
        inner: Callable[..., Any] = getattr(obj, method)

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                self.seconds[stage] += time.perf_counter() - start

        setattr(obj, method, timed)


def profile_actor(actor: Any, seeds: list[int], weights: dict[str, Any]) -> dict[str, Any]:
    """Collect one exploring episode per seed with ``actor`` (an in-process
    :class:`experiments.collect_infer.actors.Actor`); env steps/s, physics steps per env step
    and each stage's share of the wall time."""
    timer = StageTimer()
    bullet = actor.env.unwrapped.world.bullet
    timer.wrap(bullet, "render_rgbd", "render")
    timer.wrap(bullet, "inverse_kinematics", "ik")
    if actor.detector is not None:
        timer.wrap(actor.detector, "observe", "detector")
    timer.wrap(actor.agent, "act", "policy")
    steps0, physics0 = bullet.physics_steps, bullet.physics_seconds
    start = time.perf_counter()
    rollouts = actor.collect(seeds, weights, {})
    wall = time.perf_counter() - start
    timer.seconds["physics"] = bullet.physics_seconds - physics0
    env_steps = sum(r.episode.T for r in rollouts)
    shares = {s: t / wall for s, t in timer.seconds.items()}
    shares["other"] = max(0.0, 1.0 - sum(shares.values()))
    return {"env_steps_per_s": env_steps / wall, "env_steps": env_steps,
            "physics_steps_per_env_step": (bullet.physics_steps - steps0) / env_steps,
            "stage_share": shares}


def bare_physics_rate(seconds: float) -> float:
    """Physics steps/s of our scene at rest with nothing but ``stepSimulation`` (the floor)."""
    from sim import EnvConfig, make_env
    from sim.seeds import BENCH

    env = make_env("stack all three objects", EnvConfig(render=False))
    env.reset(seed=BENCH.seed(0, 0))
    bullet = env.world.bullet
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        bullet.step(100)
        steps += 100
    rate = steps / (time.perf_counter() - start)
    env.close()
    return rate
