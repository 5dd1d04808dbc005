"""The two fixed cameras and the visual configuration (with the shifted variant for evaluation)."""
from __future__ import annotations

import colorsys
from dataclasses import dataclass, replace

import numpy as np


@dataclass(frozen=True)
class CameraView:
    """A fixed pinhole camera: where it is, what it looks at, and its field of view."""

    eye: tuple[float, float, float]
    target: tuple[float, float, float]
    fov_deg: float = 50.0
    up: tuple[float, float, float] = (0.0, 0.0, 1.0)


FRONT = CameraView(eye=(0.86, 0.0, 0.40), target=(0.48, 0.0, 0.08), fov_deg=45.0)
"""Looks at the table from the side opposite the robot."""
SIDE = CameraView(eye=(0.78, -0.36, 0.36), target=(0.49, 0.0, 0.09), fov_deg=45.0)
"""Looks at the table diagonally from the robot's right (the fingers do not hide a held cube)."""
DEFAULT_LIGHT = (0.4, -0.3, 1.0)
PANDA_LINKS = 13
"""Links of the Panda URDF: the base and its 12 child links."""


@dataclass(frozen=True)
class VisualConfig:
    """What the cameras see: poses, light, cube size and shade. Defaults are the training world."""

    cameras: tuple[CameraView, ...] = (FRONT, SIDE)
    """The fixed cameras, in observation order."""
    light_direction: tuple[float, float, float] = DEFAULT_LIGHT
    cube_size_scale: float = 1.0
    """Multiplies the cube edge length (physics too)."""
    shade_jitter: float = 0.0
    """Max per-channel change of each cube's colour, resampled at every reset."""
    table_rgba: tuple[float, float, float, float] = (0.78, 0.74, 0.68, 1.0)
    robot: str = "panda"
    """Arm shown in the world: "panda" (acts) or "kuka" (demo videos of an external agent)."""
    robot_colors: tuple[tuple[float, float, float, float], ...] = ()
    """RGBA of each of the Panda's links, base first (empty: the URDF's own colours)."""
    low_poly: bool = True
    """Render the Panda with its collision meshes (~3k triangles instead of ~100k)."""
    image_size: int = 128

    @staticmethod
    def shifted(seed: int) -> "VisualConfig":
        """A visually shifted world for evaluation only: moved cameras, other light, cube size
        and shade jitter, a darker table. Drawn deterministically from ``seed``."""
        rng = np.random.default_rng(seed)
        cams = tuple(_jitter_camera(c, rng) for c in (FRONT, SIDE))
        light = tuple(float(v) for v in rng.uniform([-0.8, -0.8, 0.6], [0.8, 0.8, 1.0]))
        table = tuple(float(v) for v in rng.uniform(0.55, 0.85, 3)) + (1.0,)
        return VisualConfig(cameras=cams, light_direction=light,  # type: ignore[arg-type]
                            cube_size_scale=float(rng.uniform(0.9, 1.1)), shade_jitter=0.12,
                            table_rgba=table)  # type: ignore[arg-type]

    @staticmethod
    def arm_colored(seed: int) -> "VisualConfig":
        """The training world with the Panda painted in random colours, drawn from ``seed``
        (one to three colours of any hue, grey included, spread over its links at random):
        frames that teach a detector that the arm's colour says nothing about the cubes."""
        rng = np.random.default_rng(seed)
        palette = [_random_color(rng) for _ in range(int(rng.integers(1, 4)))]
        links = tuple(palette[int(rng.integers(len(palette)))] for _ in range(PANDA_LINKS))
        return VisualConfig(robot_colors=links)

    def with_robot(self, robot: str) -> "VisualConfig":
        """The same visuals with another arm."""
        return replace(self, robot=robot)


def _random_color(rng: np.random.Generator) -> tuple[float, float, float, float]:
    """Any hue; saturation 0-1 (a third of the colours are grey-ish), value 0.25-1."""
    sat = 0.0 if rng.random() < 0.33 else float(rng.uniform(0.3, 1.0))
    r, g, b = colorsys.hsv_to_rgb(float(rng.uniform(0, 1)), sat, float(rng.uniform(0.25, 1.0)))
    return (r, g, b, 1.0)


def _jitter_camera(view: CameraView, rng: np.random.Generator) -> CameraView:
    eye = np.asarray(view.eye) + rng.uniform(-0.06, 0.06, 3)
    target = np.asarray(view.target) + rng.uniform(-0.02, 0.02, 3)
    return CameraView(eye=tuple(eye.tolist()), target=tuple(target.tolist()),  # type: ignore[arg-type]
                      fov_deg=float(view.fov_deg + rng.uniform(-4, 4)))

