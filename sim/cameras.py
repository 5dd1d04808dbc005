"""The two fixed cameras and the visual configuration (with the shifted variant for evaluation).

Besides the cameras, a :class:`VisualConfig` may carry a :class:`Lighting` (light strength,
ambient, shadows), a :class:`Scenery` (floor, table texture, props that are not cubes, cube
tint and yaw) and an :class:`ArmLook` (colours and shape of an arm drawn in place of the
Panda). Their defaults (None, empty) render the training world exactly as before;
``sim.styles`` draws randomised looks from them.
"""
from __future__ import annotations

import colorsys
from dataclasses import dataclass, field, replace

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


RGBA = tuple[float, float, float, float]


def rolled_up(eye: tuple[float, float, float], target: tuple[float, float, float],
              roll_deg: float) -> tuple[float, float, float]:
    """The up vector of a camera at ``eye`` looking at ``target``, rolled by ``roll_deg``
    about its viewing axis (0: the world's z axis projected on the image plane)."""
    axis = np.asarray(target, dtype=np.float64) - np.asarray(eye, dtype=np.float64)
    axis /= np.linalg.norm(axis)
    up = np.array([0.0, 0.0, 1.0]) - axis[2] * axis  # z, orthogonal to the view axis
    norm = np.linalg.norm(up)
    up = up / norm if norm > 1e-6 else np.array([1.0, 0.0, 0.0])
    side = np.cross(axis, up)
    a = np.radians(roll_deg)
    rolled = np.cos(a) * up + np.sin(a) * side
    return (float(rolled[0]), float(rolled[1]), float(rolled[2]))


def project(view: CameraView, points: np.ndarray, size: int) -> np.ndarray:
    """(row, col) pixel coordinates of world ``points`` (N, 3) in a ``size`` square render of
    ``view`` (pybullet's look-at camera; points behind the camera get NaN)."""
    eye = np.asarray(view.eye, dtype=np.float64)
    forward = np.asarray(view.target, dtype=np.float64) - eye
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, np.asarray(view.up, dtype=np.float64))
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    d = points - eye
    depth = d @ forward
    scale = np.tan(np.radians(view.fov_deg) / 2) * np.where(depth > 1e-9, depth, np.nan)
    x, y = (d @ right) / scale, (d @ up) / scale
    return np.stack([(1 - y) / 2 * size, (1 + x) / 2 * size], axis=1)


@dataclass(frozen=True)
class Lighting:
    """The renderer's light besides its direction (TinyRenderer's Phong coefficients)."""

    ambient: float = 0.6
    diffuse: float = 0.35
    specular: float = 0.05
    color: tuple[float, float, float] = (1.0, 1.0, 1.0)
    shadow: bool = False
    """Cast shadows (a shadow-map pass: about twice the render time)."""
    distance: float = 2.0
    """Distance of the light for the shadow map (metres)."""


@dataclass(frozen=True)
class Prop:
    """A drawn object that is not a cube (no collision, never touched): a primitive shape
    (sphere, cylinder, capsule, box) or a mesh from pybullet_data."""

    shape: str
    """sphere | cylinder | capsule | box | a pybullet_data .obj path (e.g. duck.obj)."""
    size: float
    """Radius of a primitive (box: half edge), or the mesh scale."""
    position: tuple[float, float, float]
    yaw: float = 0.0
    rgba: RGBA = (0.5, 0.5, 0.5, 1.0)
    length: float = 0.1
    """Cylinder or capsule length (metres)."""


@dataclass(frozen=True)
class Scenery:
    """Surroundings of the task: floor, table texture, props, and how the cubes look."""

    floor_rgba: RGBA | None = None
    """A floor below the table (None: none, the renderer's background)."""
    floor_texture: str | None = None
    """Image file on the floor (pybullet_data's or one ``sim.scenery`` generated)."""
    table_texture: str | None = None
    """Image file on the table (tinted by ``VisualConfig.table_rgba``)."""
    props: tuple[Prop, ...] = ()
    cube_tint: tuple[tuple[float, float, float], ...] = ()
    """Per-cube (red, green, blue order) RGB added to the cube's colour (empty: none)."""
    cube_yaw: float = 0.0
    """Max yaw (radians) each cube is turned by at every reset (0: axis-aligned)."""


@dataclass(frozen=True)
class ArmLook:
    """How an arm drawn in place of the Panda looks (``VisualConfig.robot`` != "panda")."""

    colors: tuple[RGBA, ...] = ()
    """Paint of its links, base first, cycled (empty: its own colours)."""
    hand_rgba: RGBA = (0.18, 0.18, 0.20, 1.0)
    """Colour of a drawn hand."""
    base: tuple[float, float, float] = (0.0, 0.0, 0.0)
    """Where its base stands (a procedural arm anywhere that reaches the table)."""
    thickness: float = 0.035
    """Link radius of a procedural arm (metres)."""
    shape: str = "box"
    """Link shape of a procedural arm: box, cylinder or capsule."""
    elbow_up: bool = True
    """Procedural arm: elbow above the line from shoulder to wrist (False: to the side)."""


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
    lighting: Lighting | None = None
    """Light strength, ambient and shadows (None: the renderer's defaults, no shadows)."""
    scenery: Scenery | None = None
    """Floor, table texture, props, cube tint and yaw (None: the training world's)."""
    arm_look: ArmLook = field(default_factory=ArmLook)
    """Colours and shape of an arm drawn in place of the Panda."""

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
        palette = [random_color(rng) for _ in range(int(rng.integers(1, 4)))]
        links = tuple(palette[int(rng.integers(len(palette)))] for _ in range(PANDA_LINKS))
        return VisualConfig(robot_colors=links)

    def with_robot(self, robot: str) -> "VisualConfig":
        """The same visuals with another arm."""
        return replace(self, robot=robot)


def random_color(rng: np.random.Generator, grey: float = 0.33) -> tuple[float, float, float, float]:
    """Any hue; saturation 0-1 (a fraction ``grey`` of the colours are grey), value 0.25-1."""
    sat = 0.0 if rng.random() < grey else float(rng.uniform(0.3, 1.0))
    r, g, b = colorsys.hsv_to_rgb(float(rng.uniform(0, 1)), sat, float(rng.uniform(0.25, 1.0)))
    return (r, g, b, 1.0)


def _jitter_camera(view: CameraView, rng: np.random.Generator) -> CameraView:
    eye = np.asarray(view.eye) + rng.uniform(-0.06, 0.06, 3)
    target = np.asarray(view.target) + rng.uniform(-0.02, 0.02, 3)
    return CameraView(eye=tuple(eye.tolist()), target=tuple(target.tolist()),  # type: ignore[arg-type]
                      fov_deg=float(view.fov_deg + rng.uniform(-4, 4)))

