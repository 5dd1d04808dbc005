"""The two fixed cameras and the visual configuration (with the shifted variant for evaluation)."""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from sim.bullet import CameraView

FRONT = CameraView(eye=(0.86, 0.0, 0.40), target=(0.48, 0.0, 0.08), fov_deg=45.0)
"""Looks at the table from the side opposite the robot."""
SIDE = CameraView(eye=(0.78, -0.36, 0.36), target=(0.49, 0.0, 0.09), fov_deg=45.0)
"""Looks at the table diagonally from the robot's right (the fingers do not hide a held cube)."""
DEFAULT_LIGHT = (0.4, -0.3, 1.0)


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

    def with_robot(self, robot: str) -> "VisualConfig":
        """The same visuals with another arm."""
        return replace(self, robot=robot)


def _jitter_camera(view: CameraView, rng: np.random.Generator) -> CameraView:
    eye = np.asarray(view.eye) + rng.uniform(-0.06, 0.06, 3)
    target = np.asarray(view.target) + rng.uniform(-0.02, 0.02, 3)
    return CameraView(eye=tuple(eye.tolist()), target=tuple(target.tolist()),  # type: ignore[arg-type]
                      fov_deg=float(view.fov_deg + rng.uniform(-4, 4)))

