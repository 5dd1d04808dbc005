"""Demos under shift: the KUKA iiwa is drawn, the Panda is not, and physics is unchanged."""
from __future__ import annotations

import numpy as np

from sim import EnvConfig, VisualConfig, make_env
from sim.demo import DemoConfig, demo_visual, render_demo
from sim.expert import expert_action

TASK = "stack the red object on top of the blue object"


def _orange(images: np.ndarray) -> int:
    """Pixels of the KUKA's orange (no cube, table or Panda has that colour)."""
    rgb = images.astype(int)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return int(((r > 150) & (g > 50) & (g < 150) & (b < 60) & (r - g > 60)).sum())


def _expert_episode(visual: VisualConfig, seed: int) -> tuple[np.ndarray, np.ndarray, bool]:
    env = make_env(TASK, EnvConfig(visual=visual))
    obs, _ = env.reset(seed=seed)
    first = obs["rgb"]
    for _ in range(2):
        obs, reward, *_ = env.step(expert_action(env))
    state = obs["state"]
    env.close()
    return first, state, bool(reward)


def test_shifted_scene_shows_the_kuka_and_hides_the_panda() -> None:
    shifted = demo_visual(DemoConfig(shift=True, seed=0))
    assert shifted.robot == "kuka" and shifted.cameras != VisualConfig().cameras
    env = make_env(TASK, EnvConfig(visual=shifted))
    env.reset(seed=0)
    bullet = env.unwrapped.world.bullet
    assert bullet.has_body("kuka") and bullet.visible("kuka")
    assert bullet.has_body("panda") and not bullet.visible("panda")  # still there, unseen
    env.close()
    kuka_frames, _, _ = _expert_episode(shifted, 0)
    panda_frames, _, _ = _expert_episode(shifted.with_robot("panda"), 0)
    assert _orange(kuka_frames) > 300  # the KUKA's orange links are in view
    assert _orange(panda_frames) == 0
    assert np.abs(kuka_frames.astype(int) - panda_frames).mean() > 3


def test_the_hidden_panda_still_does_the_physics() -> None:
    """Cubes move exactly as without the KUKA: it has no collisions and never touches them."""
    shifted = demo_visual(DemoConfig(shift=True, seed=1))
    _, with_kuka, ok_kuka = _expert_episode(shifted, 5)
    _, with_panda, ok_panda = _expert_episode(shifted.with_robot("panda"), 5)
    assert ok_kuka and ok_panda
    np.testing.assert_allclose(with_kuka, with_panda, atol=1e-6)


def test_kuka_follows_the_grasp_point_in_mid_motion_frames() -> None:
    demo = render_demo(TASK, DemoConfig(shift=True, seed=2, motion_frames=4))
    assert demo.success and demo.steps == 2
    assert demo.frames.shape[1:] == (2, 128, 128, 3)
    # every pick/place contributes its mid-motion frames, and the last frame is held
    assert len(demo.frames) == 1 + 2 * (4 + 1) + DemoConfig().hold_frames - 1
    assert [p["on_top(red,blue)"] for p in demo.predicates][-1]
    env = make_env(TASK, EnvConfig(visual=demo.visual))
    env.reset(seed=0)
    world = env.unwrapped.world
    world.robot.move_to(np.array([0.45, 0.08, 0.12]))
    assert world.external.follow(world.robot.ee_position(), world.robot.finger_opening()) < 0.005
    env.close()


def test_arm_colored_looks_paint_the_panda_per_seed() -> None:
    a, b = VisualConfig.arm_colored(0), VisualConfig.arm_colored(1)
    assert a == VisualConfig.arm_colored(0) and a.robot_colors != b.robot_colors
    assert a.cameras == VisualConfig().cameras  # only the arm changes
    plain, _, _ = _expert_episode(VisualConfig(), 3)
    painted, _, _ = _expert_episode(a, 3)
    assert np.abs(plain.astype(int) - painted).mean() > 1
