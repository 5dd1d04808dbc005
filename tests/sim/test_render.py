"""Rendering the moving bodies over a cached image of the table gives the full render exactly."""
from __future__ import annotations

import numpy as np
import pytest

import sim
from sim.cameras import VisualConfig
from sim.expert import random_expert_action


def _full_render(env: sim.StackingEnv) -> np.ndarray:
    """Every camera's image with the table drawn in the same pass (the reference), of the
    bodies as the observation saw them (a drawn arm is not posed again)."""
    world = env.world
    world.bullet.set_color("table", world.visual.table_rgba)
    size = world.visual.image_size
    images = np.stack([world.bullet.render(v, size) for v in world.visual.cameras])
    world.bullet.hide("table")
    return images


@pytest.mark.parametrize("visual", [
    VisualConfig(),
    VisualConfig.shifted(3),
    VisualConfig.arm_colored(4),
    VisualConfig.shifted(5).with_robot("kuka"),
], ids=["default", "shifted", "arm-colored", "kuka"])
def test_composited_frames_equal_full_renders(visual: VisualConfig) -> None:
    env = sim.make_env("stack all three objects", sim.EnvConfig(visual=visual, horizon=50))
    rng = np.random.default_rng(0)
    compared = 0
    for seed in (0, 1):
        obs, _ = env.reset(seed=seed)
        assert np.array_equal(obs["rgb"], _full_render(env))
        for _ in range(5):  # grasps, carried cubes, stacks, cubes on the table
            obs = env.step(random_expert_action(env, rng))[0]
            assert np.array_equal(obs["rgb"], _full_render(env))
            compared += 1
    env.close()
    assert compared == 10


def test_the_table_is_in_every_frame() -> None:
    """The cached table is really composited (a frame without it would differ widely)."""
    env = sim.make_env("stack all three objects", sim.EnvConfig())
    obs, _ = env.reset(seed=0)
    table = np.array(env.world.visual.table_rgba[:3]) * 255
    near_table = np.abs(obs["rgb"].astype(float) - table).max(axis=-1) < 40
    assert near_table.mean() > 0.2  # the table fills a large part of each view
    env.close()
