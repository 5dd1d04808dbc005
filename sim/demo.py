"""Demonstrations: the scripted expert doing a task, rendered frame by frame for a video.

``render_demo`` runs :func:`sim.expert.expert_action` and keeps every camera frame, mid-motion
frames included, with the ground-truth predicates of each frame (for evaluation only: an
imitator must read the frames, never these). With ``shift=True`` the demonstration is under
visual domain shift: moved cameras, other light, cube size and shade, another table colour
(``VisualConfig.shifted``, the perception's evaluation-only shift) and another arm, the KUKA
iiwa, in place of the Panda (see :mod:`sim.external_arm`). With a ``style`` (a
:class:`sim.styles.Style`) it is one camera's video as someone else would record it: the
style's arm, camera, light, table and cubes, its frame size and post-processing, and idle
frames before the first move (:func:`foreign_demo_config` draws one whose camera sees every
cube).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from sim.cameras import VisualConfig
from sim.env import EnvConfig, make_env
from sim.expert import expert_action
from sim.seeds import DEMO_LOOK, DEMO_SCENE, FOREIGN_DEMOS
from sim.styles import Families, Style, sample_style
from sim.tasks import Task



@dataclass(frozen=True)
class DemoConfig:
    """How a demonstration is rendered."""

    shift: bool = False
    """Visual domain shift: other cameras, light and cubes, and another arm."""
    robot: str = "kuka"
    """The arm shown under shift (the Panda acts unseen; see sim.external_arm)."""
    seed: int = 0
    """Selects the scene (cube positions) and, under shift, the shifted look."""
    motion_frames: int = 10
    """Frames rendered during each pick or place (besides the frame after it)."""
    hold_frames: int = 6
    """Times the final frame is repeated (a video lingers on the result)."""
    image_size: int = 128
    max_steps: int = 10
    style: Style | None = None
    """A foreign look (overrides ``shift`` and ``image_size``): frames as the style's camera
    records them (``Style.frames``)."""
    scene_seed: int | None = None
    """The scene's reset seed (None: ``sim.seeds.DEMO_SCENE`` block ``seed``)."""
    lead_frames: int = 0
    """Times the first frame is repeated before the first move (idle seconds at the start)."""

    def __post_init__(self) -> None:
        if self.motion_frames < 0 or self.hold_frames < 1 or self.max_steps < 1 \
                or self.lead_frames < 0:
            raise ValueError("motion_frames and lead_frames must be >= 0, hold_frames and "
                             "max_steps >= 1")
        if self.image_size < 16:
            raise ValueError(f"image_size must be >= 16, got {self.image_size}")


@dataclass
class Demo:
    """A rendered demonstration."""

    frames: np.ndarray
    """(T, n_cams, H, W, 3) uint8, in time order."""
    predicates: list[dict[str, bool]] = field(default_factory=list)
    """Ground truth of each frame (evaluation only)."""
    success: bool = False
    steps: int = 0
    """Pick/place steps the expert took."""
    visual: VisualConfig = field(default_factory=VisualConfig)


def demo_visual(cfg: DemoConfig) -> VisualConfig:
    """The visual configuration of a demonstration."""
    if cfg.style is not None:
        return cfg.style.at_frame_size()
    if not cfg.shift:
        return VisualConfig(image_size=cfg.image_size)
    shifted = VisualConfig.shifted(DEMO_LOOK.seed(cfg.seed, 0)).with_robot(cfg.robot)
    return replace(shifted, image_size=cfg.image_size)


def render_demo(task: Task | str, cfg: DemoConfig | None = None) -> Demo:
    """The scripted expert solving ``task`` from scene ``cfg.seed``, every frame kept."""
    cfg = cfg or DemoConfig()
    visual = demo_visual(cfg)
    env = make_env(task, EnvConfig(horizon=cfg.max_steps, motion_frames=cfg.motion_frames,
                                   visual=visual))
    try:
        scene = DEMO_SCENE.seed(cfg.seed, 0) if cfg.scene_seed is None else cfg.scene_seed
        obs, info = env.reset(seed=scene)
        frames, preds = [obs["rgb"]], [info["predicates"]]
        success, steps = bool(info["is_success"]), 0
        while not success and steps < cfg.max_steps:
            obs, reward, terminated, truncated, info = env.step(expert_action(env))
            steps += 1
            frames += list(info.get("motion_frames", []))
            preds += list(info.get("motion_predicates", []))
            frames.append(obs["rgb"])
            preds.append(info["predicates"])
            success = bool(terminated)
            if truncated:
                break
    finally:
        env.close()
    frames = [frames[0]] * cfg.lead_frames + frames + [frames[-1]] * (cfg.hold_frames - 1)
    preds = [preds[0]] * cfg.lead_frames + preds + [preds[-1]] * (cfg.hold_frames - 1)
    images = np.stack(frames)  # (T, n_cams, H, W, 3)
    if cfg.style is not None:  # as the style's camera records them: crop, size, blur, noise
        images = cfg.style.frames(images, np.random.default_rng(cfg.style.seed))
    return Demo(images, preds, success, steps, visual)


def foreign_demo_config(split: str, families: Families, index: int, tries: int = 50,
                        margin: float = 0.05, min_visible: float = 0.25,
                        **kwargs) -> DemoConfig:
    """The ``index``-th foreign demo of ``split`` (``sim.seeds.FOREIGN_DEMOS``): a style of
    ``families`` whose camera sees every cube of the scene at the start: inside the frame by
    ``margin`` and, of each cube, at least ``min_visible`` of a face's area not hidden by the
    arm (:meth:`sim.world.World.cube_visibility`; a demo whose cubes are behind the arm shows
    nothing to read). The scene and the style are drawn from one seed; seeds that miss a cube
    are skipped, at most ``tries``. ``kwargs``: further :class:`DemoConfig` settings."""
    from sim.objects import COLORS

    env = make_env("stack all three objects", EnvConfig(render=False))  # the scenes' layouts
    try:
        for attempt in range(tries):
            seed = FOREIGN_DEMOS[split].seed(index, attempt)
            style = sample_style(seed, families)
            env.reset(seed=seed)
            cubes = np.stack([env.unwrapped.world.positions()[c] for c in COLORS])
            if style.in_view(cubes, margin=margin).all() and \
                    _visible(style, seed, min_visible):
                return DemoConfig(style=style, scene_seed=seed, seed=index, **kwargs)
    finally:
        env.close()
    raise ValueError(f"foreign demo {split} #{index}: no style in {tries} seeds sees every cube")


def _visible(style: Style, seed: int, min_visible: float) -> bool:
    """Whether the style's camera sees at least ``min_visible`` of every cube at the start
    of scene ``seed`` (the style's arm in its rest pose in front of them or not)."""
    if min_visible <= 0:
        return True
    env = make_env("stack all three objects", EnvConfig(visual=style.visual))
    try:
        env.reset(seed=seed)
        return bool((env.unwrapped.world.cube_visibility(0) >= min_visible).all())
    finally:
        env.close()
