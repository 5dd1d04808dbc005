"""Randomised looks (sim.styles): arms, cameras, surfaces, post-processing, held-out families."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import sim
from sim.cameras import FRONT, ArmLook, Scenery, VisualConfig
from sim.expert import expert_action, random_expert_action
from sim.objects import COLORS
from sim.postprocess import PostProcess, jpeg_round_trip
from sim.styles import (
    ARMS, HELD_OUT, SECTORS, SURFACES, TRAIN, Families, Style, project, sample_style,
)

TASK = "stack the red object on top of the blue object"
EVERYTHING = Families(ARMS, tuple(SECTORS), SURFACES)


def _style(seed: int, arm: str, surface: str = "solid", size: int = 96) -> Style:
    return sample_style(seed, EVERYTHING.with_(arms=(arm,), surfaces=(surface,)), image_size=size)


def _azimuth(style: Style) -> float:
    view = style.visual.cameras[0]
    d = np.subtract(view.eye, view.target)
    return float(np.degrees(np.arctan2(d[1], d[0])) % 360)


@pytest.mark.parametrize("arm", ["kuka", "xarm", "procedural"])
def test_every_drawn_arm_builds_and_follows_the_grasp_point(arm: str) -> None:
    env = sim.make_env(TASK, sim.EnvConfig(visual=_style(3, arm).visual))
    env.reset(seed=0)
    world = env.unwrapped.world
    assert world.external is not None and world.external.name == arm
    assert not world.bullet.visible("panda")
    for target in ([0.45, 0.08, 0.12], [0.6, -0.15, 0.05], [0.34, 0.12, 0.2], [0.66, 0.16, 0.02]):
        world.robot.move_to(np.array(target))
        error = world.external.follow(world.robot.ee_position(), world.robot.finger_opening())
        assert error < 0.01, (arm, target, error)  # the KUKA's flange, the xArm's TCP
    env.close()


def test_procedural_arms_reach_from_any_base_and_shape() -> None:
    from sim.arms import ProceduralArm
    from sim.bullet import Bullet

    bullet = Bullet()
    for i, (base, shape, elbow_up) in enumerate([((-0.2, -0.3, 0.0), "capsule", True),
                                                 ((0.05, 0.3, 0.0), "cylinder", False),
                                                 ((0.0, 0.0, 0.0), "box", True)]):
        bullet.clear()
        arm = ProceduralArm(bullet, ArmLook(base=base, shape=shape, elbow_up=elbow_up,
                                            thickness=0.02 + 0.01 * i))
        for grasp in ([0.28, -0.22, 0.02], [0.72, 0.22, 0.02], [0.5, 0.0, 0.3]):
            assert arm.follow(np.array(grasp), 0.04) < 1e-6
    with pytest.raises(ValueError, match="shape"):
        ProceduralArm(bullet, ArmLook(shape="cone"))
    bullet.close()


def test_a_sampled_style_renders_frames_of_its_size_unlike_the_default() -> None:
    style = sample_style(11, image_size=96)
    env = sim.make_env(TASK, sim.EnvConfig(visual=style.visual))
    obs, _ = env.reset(seed=1)
    frames = style.frames(obs["rgb"][None], np.random.default_rng(0))
    assert frames.shape == (1, 1, *style.frame_hw, 3) and frames.dtype == np.uint8
    env.close()
    plain = replace(VisualConfig(), cameras=style.visual.cameras, image_size=96)
    env = sim.make_env(TASK, sim.EnvConfig(visual=plain))
    obs_plain, _ = env.reset(seed=1)
    env.close()
    default = style.frames(obs_plain["rgb"][None], np.random.default_rng(0))
    assert np.abs(frames.astype(int) - default).mean() > 10  # same view, another look


def test_held_out_families_are_never_sampled_for_training() -> None:
    for kind in ("arms", "sectors", "surfaces"):
        assert not set(getattr(TRAIN, kind)) & set(getattr(HELD_OUT, kind))
        assert set(getattr(TRAIN, kind)) | set(getattr(HELD_OUT, kind)) == \
            set({"arms": ARMS, "sectors": SECTORS, "surfaces": SURFACES}[kind])
    front = SECTORS["front"]
    seen = set()
    for seed in range(300):
        style = sample_style(seed)
        assert style.held_out() == []
        assert style.visual.robot != "xarm"
        az = _azimuth(style)
        assert not (az >= front[0] % 360 or az <= front[1]), az  # never in the front sector
        texture = (style.visual.scenery.table_texture or "")
        assert "wood" not in texture
        seen.add((style.arm, style.sectors[0], style.surface))
    assert {a for a, _, _ in seen} == set(TRAIN.arms)
    assert {s for _, s, _ in seen} == set(TRAIN.sectors)
    assert {s for _, _, s in seen} == set(TRAIN.surfaces)
    held = sample_style(5, HELD_OUT)
    assert held.held_out() == ["arm xarm", "surface wood-shadow", "sector front"]
    assert held.visual.lighting.shadow and "wood" in held.visual.scenery.table_texture


def test_camera_draws_cover_a_wide_range() -> None:
    styles = [sample_style(s, EVERYTHING) for s in range(200)]
    az = np.array([_azimuth(s) for s in styles])
    views = [s.visual.cameras[0] for s in styles]
    dist = np.array([np.linalg.norm(np.subtract(v.eye, v.target)) for v in views])
    elev = np.degrees(np.arcsin(np.array([(v.eye[2] - v.target[2]) for v in views]) / dist))
    fov = np.array([v.fov_deg for v in views])
    roll = np.array([abs(v.up[2]) for v in views])
    assert np.histogram(az, bins=12, range=(0, 360))[0].min() > 0  # all around the table
    assert dist.max() - dist.min() > 0.5 and elev.max() - elev.min() > 45
    assert fov.max() - fov.min() > 30 and len({s.frame_hw for s in styles}) > 20
    assert (roll < 0.999).mean() > 0.5  # most cameras are rolled a little


def test_styles_are_deterministic_by_seed_and_factors_independent() -> None:
    assert sample_style(7) == sample_style(7) and sample_style(7) != sample_style(8)
    a = sample_style(9, EVERYTHING)
    b = sample_style(9, EVERYTHING.with_(arms=("kuka",)))
    assert a.visual.cameras == b.visual.cameras and a.surface == b.surface and a.post == b.post
    renders = []
    for _ in range(2):
        style = sample_style(4, image_size=64)
        env = sim.make_env(TASK, sim.EnvConfig(visual=style.visual))
        obs, _ = env.reset(seed=2)
        renders.append(style.frames(obs["rgb"][None], np.random.default_rng(1)))
        env.close()
    assert np.array_equal(*renders)


def test_a_dressed_world_does_the_same_physics_and_the_expert_succeeds() -> None:
    style = sample_style(21, EVERYTHING.with_(arms=("procedural",)), image_size=64)
    style = replace(style, visual=replace(style.visual, scenery=replace(
        style.visual.scenery, cube_yaw=0.3)))
    env = sim.make_env(TASK, sim.EnvConfig(visual=style.visual))
    _, info = env.reset(seed=3)
    world = env.unwrapped.world
    yaw = [abs(np.arctan2(2 * q[2] * q[3], 1 - 2 * q[2] ** 2)) for q in
           (world.bullet.pose(c)[1] for c in COLORS)]
    assert max(yaw) > 0.01  # the cubes are turned
    for _ in range(4):
        _, _, terminated, _, info = env.step(expert_action(env))
        if terminated:
            break
    assert info["is_success"]
    env.close()


def _full_render(world) -> np.ndarray:
    """Every camera's image with the static scenery drawn in the same pass."""
    bullet, visual = world.bullet, world.visual
    bullet.set_color("table", visual.table_rgba)
    if visual.scenery.floor_rgba is not None:
        bullet.set_color("floor", visual.scenery.floor_rgba)
    for i, prop in enumerate(visual.scenery.props):
        bullet.set_color(f"prop{i}", prop.rgba)
    return np.stack([bullet.render(v, visual.image_size) for v in visual.cameras])


def test_composited_dressed_frames_equal_full_renders() -> None:
    seeds = [s for s in range(40) if not sample_style(s).visual.lighting.shadow
             and sample_style(s).visual.scenery.props and sample_style(s).visual.scenery.floor_rgba]
    style = sample_style(seeds[0], image_size=64)
    env = sim.make_env("stack all three objects", sim.EnvConfig(visual=style.visual))
    rng = np.random.default_rng(0)
    obs, _ = env.reset(seed=0)
    world = env.unwrapped.world
    for _ in range(3):
        obs = env.step(random_expert_action(env, rng))[0]
    assert np.array_equal(obs["rgb"], _full_render(world))
    env.close()


def test_an_empty_scenery_is_the_training_world() -> None:
    plain = sim.make_env(TASK, sim.EnvConfig())
    dressed = sim.make_env(TASK, sim.EnvConfig(visual=VisualConfig(scenery=Scenery())))
    a, _ = plain.reset(seed=4)
    b, _ = dressed.reset(seed=4)
    assert np.array_equal(a["rgb"], b["rgb"])
    assert VisualConfig().lighting is None and VisualConfig().scenery is None
    plain.close()
    dressed.close()


def test_projection_matches_the_rendered_cube() -> None:
    env = sim.make_env(TASK, sim.EnvConfig())
    obs, _ = env.reset(seed=0)
    red = env.unwrapped.world.positions()["red"]
    image = obs["rgb"][0].astype(int)  # the front camera
    mask = (image[..., 0] > 150) & (image[..., 1] < 80) & (image[..., 2] < 80)
    rows, cols = np.nonzero(mask)
    row, col = project(FRONT, red[None], image.shape[0])[0]
    assert abs(rows.mean() - row) < 3 and abs(cols.mean() - col) < 3
    env.close()
    style = sample_style(2)
    center = np.asarray(style.visual.cameras[0].target)
    far_away = center + (0.0, 0.0, -50.0)
    assert style.in_view(np.stack([center, far_away])).tolist() == [True, False]


def test_post_processing_crops_resizes_and_degrades() -> None:
    rng = np.random.default_rng(0)
    image = (np.random.default_rng(1).random((128, 128, 3)) * 255).astype(np.uint8)
    plain = PostProcess(frame_hw=(96, 128))
    assert plain.window(128) == (16, 0, 96, 128)
    assert np.array_equal(plain.apply(image, rng), image[16:112])
    worse = PostProcess(frame_hw=(240, 180), zoom=0.8, offset=(0.0, 1.0), blur=1.0,
                        noise=0.02, jpeg_quality=30)
    top, left, h, w = worse.window(128)
    assert top == 0 and left + w == 112 and (h, w) == (102, 77)
    frame = worse.apply(image, rng)
    assert frame.shape == (240, 180, 3) and frame.dtype == np.uint8
    smooth = np.full((64, 64, 3), 120, np.uint8)
    assert np.abs(jpeg_round_trip(smooth, 50).astype(int) - 120).max() <= 2
    assert not np.array_equal(jpeg_round_trip(image, 30), image)
    for bad in (dict(frame_hw=(4, 100)), dict(zoom=0.0), dict(jpeg_quality=100),
                dict(blur=-1.0), dict(offset=(1.5, 0.5))):
        with pytest.raises(ValueError):
            PostProcess(**bad)
    with pytest.raises(ValueError, match="square"):
        plain.apply(image[:100], rng)


def test_bad_family_names_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown arm family"):
        Families(("ur5",), ("left",), ("solid",))
    with pytest.raises(ValueError, match="at least one"):
        Families((), ("left",), ("solid",))
    with pytest.raises(ValueError, match="cameras"):
        sample_style(0, cameras=0)


def test_cube_visibility_sees_hidden_and_occluded_cubes() -> None:
    env = sim.make_env(TASK, sim.EnvConfig())
    env.reset(seed=0)
    world = env.unwrapped.world
    seen = world.cube_visibility(0)
    assert (seen > 0.8).all(), seen  # the training cameras see every cube
    world.bullet.hide("red")
    hidden = world.cube_visibility(0)
    assert hidden[0] == 0 and np.allclose(hidden[1:], seen[1:])
    env.close()
    style = sample_style(41, EVERYTHING.with_(arms=("panda-painted",), sectors=("rear",)))
    env = sim.make_env(TASK, sim.EnvConfig(visual=style.visual))
    env.reset(seed=41)
    env.step(expert_action(env))
    assert env.unwrapped.world.cube_visibility(0).min() < 0.1  # behind the arm, seen from behind
    env.close()


def test_a_foreign_demo_is_one_camera_in_its_style_with_idle_ends() -> None:
    """``foreign_demo_config`` draws a look of the split's families whose camera sees every
    cube; the demo's frames come at the style's frame size, idle at both ends, and the expert
    still succeeds (the look changes nothing of the world)."""
    from sim.demo import foreign_demo_config, render_demo
    from sim.seeds import FOREIGN_DEMOS

    cfg = foreign_demo_config("held-out", HELD_OUT, 3, lead_frames=4, hold_frames=5)
    style = cfg.style
    assert style.arm in HELD_OUT.arms and style.surface in HELD_OUT.surfaces
    assert style.sectors[0] in HELD_OUT.sectors and style.held_out()
    assert cfg.scene_seed == style.seed and style.seed // 50 == FOREIGN_DEMOS["held-out"].seed(3, 0) // 50
    demo = render_demo(TASK, cfg)
    assert demo.success
    t, cams, h, w, _ = demo.frames.shape
    assert cams == 1 and (h, w) == style.frame_hw
    assert 240 <= h <= 400 and w != 2 * h  # not the agent's two 128 px views side by side
    assert all(p == demo.predicates[0] for p in demo.predicates[:5])  # idle start
    assert all(p == demo.predicates[-1] for p in demo.predicates[-5:])
    assert np.abs(demo.frames[0].astype(int) - demo.frames[-1].astype(int)).mean() > 1.0
    again = render_demo(TASK, foreign_demo_config("held-out", HELD_OUT, 3, lead_frames=4,
                                                  hold_frames=5))
    np.testing.assert_array_equal(again.frames, demo.frames)  # determined by split and index
    train = foreign_demo_config("train", TRAIN, 3)
    assert not train.style.held_out() and train.scene_seed != cfg.scene_seed


def test_a_foreign_demo_never_starts_with_a_cube_behind_the_arm() -> None:
    """Frames that show no cube show no plan: the draw skips looks whose arm hides a cube at
    the start (val #0's first look puts the arm in front of them all)."""
    from sim.demo import foreign_demo_config

    def visibility(cfg) -> np.ndarray:
        env = sim.make_env(TASK, sim.EnvConfig(visual=cfg.style.visual))
        try:
            env.reset(seed=cfg.scene_seed)
            return env.unwrapped.world.cube_visibility(0)
        finally:
            env.close()

    blind = foreign_demo_config("val", TRAIN, 0, min_visible=0)
    assert visibility(blind).min() < 0.25
    seen = foreign_demo_config("val", TRAIN, 0)
    assert seen.scene_seed != blind.scene_seed and visibility(seen).min() >= 0.25
