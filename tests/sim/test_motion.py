"""Lazy mid-motion frames: the same images as eager rendering, and the same episode."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import sim
from sim.expert import random_expert_action

VISUALS = {"default": sim.VisualConfig(), "painted arm": sim.VisualConfig.arm_colored(7),
           "shifted": sim.VisualConfig.shifted(11), "kuka drawn": replace(sim.VisualConfig(), robot="kuka")}


def _episode(lazy: bool, visual: sim.VisualConfig, steps: int = 5) -> list[np.ndarray]:
    """Every observation, state and mid-motion frame of a seeded episode, in order."""
    env = sim.make_env("stack all three objects", sim.EnvConfig(
        horizon=steps + 1, motion_frames=32, visual=visual, lazy_motion=lazy))
    rng = np.random.default_rng(5)
    obs, _ = env.reset(seed=5)
    out = [obs["rgb"]]
    for _ in range(steps):
        obs, _, _, _, info = env.step(random_expert_action(env, rng))
        motion = info["motion_frames"]
        out += [np.asarray(motion[i]) for i in range(len(motion))]
        out += [obs["rgb"], obs["state"]]
    env.close()
    return out


@pytest.mark.parametrize("look", list(VISUALS))
def test_lazy_motion_frames_equal_eager_ones_and_leave_the_episode_alone(look: str) -> None:
    eager, lazy = _episode(False, VISUALS[look]), _episode(True, VISUALS[look])
    assert len(eager) == len(lazy) > 5 + 2 * 5  # some steps recorded mid-motion frames
    for k, (a, b) in enumerate(zip(eager, lazy)):
        assert np.array_equal(a, b), f"item {k} differs"


def test_lazy_motion_frames_render_only_what_is_read_and_expire_at_reset() -> None:
    env = sim.make_env("grasp the red object", sim.EnvConfig(motion_frames=32, lazy_motion=True))
    env.reset(seed=3)
    renders = []
    real = env._shadow.world.render_as_posed
    env._shadow.world.render_as_posed = lambda: renders.append(1) or real()
    _, _, _, _, info = env.step(random_expert_action(env, np.random.default_rng(0)))
    frames = info["motion_frames"]
    assert len(frames) >= 3 and not renders  # nothing drawn until read
    last = frames[-1]
    assert last.shape == (2, 128, 128, 3) and last.dtype == np.uint8 and len(renders) == 1
    env.reset(seed=4)
    with pytest.raises(RuntimeError, match="before the env's next reset"):
        frames[0]
    env.close()
