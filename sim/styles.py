"""Randomised looks for single-view videos, in named style families (the one home of them).

A :class:`Style` is everything a camera shows besides the task: the arm (and its paint or
shape), one camera anywhere around and above the table (azimuth, elevation, distance, field
of view, roll, aim), the light (direction, strength, ambient level, colour, shadows), the
table and floor (colour or texture) with props that are not cubes, how the cubes look (tint,
size, yaw), and how its frames come out of the camera (aspect, size, blur, noise, JPEG:
:mod:`sim.postprocess`). It is drawn deterministically from a seed.

Every style belongs to three **families**, one per factor: an arm family, a camera sector
(an azimuth range around the workspace) and a surface family (table, floor and light).
:data:`TRAIN` lists the families a video reader may be trained on and :data:`HELD_OUT` the
ones kept out of training, so that what is measured on them is generalisation
(leave-one-style-out): the xArm 6 (the only arm with its own real gripper), the front sector
(every view across the table from the robot: no training view is its mirror image, each
training sector's mirror is another training sector), and a wood-grain table under a warm,
low, shadow-casting light. The families are disjoint, and what defines a held-out family is
never drawn for training: no training style shows the xArm, looks from the front sector's
azimuths or has a wood-grain table (the warm low light alone overlaps training lights).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from sim.cameras import (
    PANDA_LINKS, ArmLook, CameraView, Lighting, Prop, Scenery, VisualConfig, project,
    random_color, rolled_up,
)
from sim.objects import Workspace
from sim.postprocess import PostProcess, sample_post

ARMS: tuple[str, ...] = ("panda", "panda-painted", "kuka", "procedural", "xarm")
"""Arm families: the Panda as it is, painted, the KUKA iiwa puppet with a drawn hand, a
procedurally built arm, the xArm 6 puppet with its gripper."""
SECTORS: dict[str, tuple[float, float]] = {
    "front": (-30.0, 30.0), "front-left": (30.0, 90.0), "left": (90.0, 140.0),
    "rear": (140.0, 220.0), "right": (220.0, 270.0), "front-right": (270.0, 330.0),
}
"""Camera azimuth ranges (degrees) around the workspace centre; 0 faces the robot from the
far side of the table (like the agent's front camera), 90 is the robot's left (+y), 180 looks
over the robot's base."""
SURFACES: tuple[str, ...] = ("solid", "pybullet-texture", "patterned", "wood-shadow")
"""Table, floor and light families: plain colours; pybullet_data images; procedural
checkers, stripes and noise; a wood-grain table under a warm, low, shadow-casting light."""
ELEVATION = (15.0, 80.0)
"""Camera elevation above the table (degrees)."""
REAR_MIN_ELEVATION = 65.0
"""Cameras in the rear sector look from at least this high (lower, the arm's own base and
links fill the picture)."""
FOV = (30.0, 75.0)
"""Field of view across the short side of a frame (degrees)."""
FRAMED_WIDTH = (0.4, 0.75)
"""Extent of the scene the short side of a frame spans at the aim point (metres)."""
DISTANCE = (0.5, 1.6)
"""Camera distance from the aim point (metres): with the framed width, it bounds the field
of view drawn."""
ROLL = 20.0
"""Max camera roll (degrees)."""
FRAME_HEIGHT = (240, 400)
"""Height of a video frame (pixels); the width follows from the aspect."""
ASPECTS: tuple[float, ...] = (4 / 3, 16 / 9, 3 / 2, 1.0, 5 / 4, 3 / 4, 9 / 16)
"""Width / height of video frames (never 2: a frame twice as wide as high is read as two
views side by side)."""
ARM_CLEARANCE = (0.55, 1.25)
"""No camera within this radius of an arm's base axis (metres) below this height (metres):
there the arm's links fill the picture."""
CUBE_YAW = 0.3
"""Max yaw of a cube at reset (radians)."""
CUBE_SCALE = (0.85, 1.2)
"""Range of the cubes' size relative to the training world's."""
KUKA_BASE_X = (-0.09, -0.075)
"""Where the KUKA of a style stands (metres behind the Panda's base): at the Panda's base,
its flange misses grasp points near the table's near edge by up to 5 cm."""
STREAMS = ("arm", "camera", "surface", "cubes", "frame", "props")
"""Random streams of a style's seed, one per factor."""
SHADOW_PROB = 0.4
"""Fraction of training looks that cast shadows."""
MESH_PROPS: tuple[tuple[str, float, float], ...] = (
    ("duck.obj", 0.06, 0.0), ("teddy2_VHACD_CHs.obj", 0.08, 0.0), ("objects/mug.obj", 0.9, 0.0),
    ("torus/torus_textured.obj", 0.05, 0.01), ("soccerball.obj", 0.05, 0.05))
"""pybullet_data meshes drawn as props: (file, scale range top, height of its origin)."""


@dataclass(frozen=True)
class Families:
    """Which families a style may be drawn from, per factor."""

    arms: tuple[str, ...]
    sectors: tuple[str, ...]
    surfaces: tuple[str, ...]

    def __post_init__(self) -> None:
        for kind, names, known in (("arm", self.arms, ARMS), ("sector", self.sectors, SECTORS),
                                   ("surface", self.surfaces, SURFACES)):
            if not names:
                raise ValueError(f"at least one {kind} family is needed")
            unknown = [n for n in names if n not in known]
            if unknown:
                raise ValueError(f"unknown {kind} famil{'y' if len(unknown) == 1 else 'ies'} "
                                 f"{', '.join(unknown)}; known: {', '.join(known)}")

    def with_(self, arms: tuple[str, ...] | None = None, sectors: tuple[str, ...] | None = None,
              surfaces: tuple[str, ...] | None = None) -> "Families":
        """These families with some factors replaced."""
        return Families(arms or self.arms, sectors or self.sectors, surfaces or self.surfaces)


TRAIN = Families(arms=("panda", "panda-painted", "kuka", "procedural"),
                 sectors=("front-left", "left", "rear", "right", "front-right"),
                 surfaces=("solid", "pybullet-texture", "patterned"))
"""Families a video reader is trained (and calibrated) on."""
HELD_OUT = Families(arms=("xarm",), sectors=("front",), surfaces=("wood-shadow",))
"""Families kept out of training: measured only."""


@dataclass(frozen=True)
class Style:
    """A drawn look: its families, the visual configuration and how its video frames come."""

    arm: str
    sectors: tuple[str, ...]
    """The camera sector of each camera of ``visual``."""
    surface: str
    visual: VisualConfig
    """Square renders whose field of view covers a frame's long side (widened to match)."""
    post: PostProcess = PostProcess()
    """Crop to the frame's aspect and size, blur, noise, compression."""
    seed: int = 0

    @property
    def frame_hw(self) -> tuple[int, int]:
        """(height, width) of a video frame in this style."""
        return self.post.frame_hw

    def frames(self, images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Square renders ``(T, n_cams, S, S, 3)`` -> video frames ``(T, n_cams, H, W, 3)``
        (post-processed; the pixel noise drawn from ``rng``)."""
        t, n = images.shape[:2]
        flat = self.post.apply_all(images.reshape(t * n, *images.shape[2:]), rng)
        return flat.reshape(t, n, *flat.shape[1:])

    def at_frame_size(self) -> VisualConfig:
        """The visual configuration rendering at the video frame's long side."""
        return replace(self.visual, image_size=max(self.frame_hw))

    def frame_coords(self, points: np.ndarray, camera: int = 0) -> np.ndarray:
        """Where world ``points`` (N, 3) land in a video frame of ``camera`` (after the aspect
        and zoom crops): (N, 2) (row, column) as fractions of the frame's height and width."""
        size = self.visual.image_size
        rc = project(self.visual.cameras[camera], np.asarray(points, dtype=np.float64), size)
        top, left, h, w = self.post.window(size)
        return np.stack([(rc[:, 0] - top) / h, (rc[:, 1] - left) / w], axis=1)

    def cube_geometry(self, cubes: np.ndarray, cube_size: float, camera: int = 0) -> np.ndarray:
        """How big cubes centred at ``cubes`` (N, 3) look in a video frame of ``camera``:
        (N, 4) = the image vector of one cube height straight up (row, column) and of one
        cube side across the view (horizontal, perpendicular to the line of sight; signed
        to point right), each as fractions of the frame's height and width. A cube resting
        on another sits one height vector from it in the picture."""
        view = self.visual.cameras[camera]
        cubes = np.asarray(cubes, dtype=np.float64)
        right = np.cross(np.subtract(view.target, view.eye), view.up)
        right[2] = 0.0
        right *= cube_size / 2 / max(float(np.linalg.norm(right)), 1e-9)
        at = self.frame_coords(cubes, camera)
        up = self.frame_coords(cubes + [0.0, 0.0, cube_size], camera) - at
        side = self.frame_coords(cubes + right, camera) - self.frame_coords(cubes - right, camera)
        side *= np.where(side[:, 1:] < 0, -1.0, 1.0)
        return np.concatenate([up, side], axis=1)

    def in_view(self, points: np.ndarray, camera: int = 0, margin: float = 0.0) -> np.ndarray:
        """Which world ``points`` (N, 3) fall inside a frame of ``camera`` (after the aspect
        and zoom crops), at least ``margin`` (a fraction of the frame) from its edges."""
        r, c = self.frame_coords(points, camera).T
        return (r >= margin) & (r <= 1 - margin) & (c >= margin) & (c <= 1 - margin)

    def held_out(self) -> list[str]:
        """The held-out families this style uses (empty: a training style)."""
        used = [("arm", self.arm, HELD_OUT.arms), ("surface", self.surface, HELD_OUT.surfaces)]
        out = [f"{kind} {name}" for kind, name, held in used if name in held]
        return out + [f"sector {s}" for s in dict.fromkeys(self.sectors) if s in HELD_OUT.sectors]


def sample_style(seed: int, families: Families = TRAIN, cameras: int = 1,
                 image_size: int = 128) -> Style:
    """The look of ``seed`` within ``families``: ``cameras`` cameras (each in a sector of the
    families), rendered at ``image_size`` pixels square. Each factor draws from its own
    stream of the seed, so restricting one factor's families leaves the others unchanged."""
    if cameras < 1:
        raise ValueError(f"cameras must be >= 1, got {cameras}")
    if image_size < 16:
        raise ValueError(f"image_size must be >= 16, got {image_size}")
    rng = {k: np.random.default_rng([seed, i]) for i, k in enumerate(STREAMS)}
    h = int(rng["frame"].integers(FRAME_HEIGHT[0], FRAME_HEIGHT[1] + 1)) // 8 * 8
    w = int(round(h * float(rng["frame"].choice(ASPECTS)) / 8)) * 8
    post = sample_post(rng["frame"], (h, w))
    arm = str(rng["arm"].choice(families.arms))
    surface = str(rng["surface"].choice(families.surfaces))
    sectors = tuple(str(rng["camera"].choice(families.sectors)) for _ in range(cameras))
    views = tuple(_camera(s, rng["camera"], max(h, w) / min(h, w)) for s in sectors)
    direction, lighting, table, scenery = _surface(surface, rng["surface"])
    robot, robot_colors, look = _arm(arm, rng["arm"])
    cube = rng["cubes"]
    scenery = replace(scenery, props=_props(rng["props"]),
                      cube_tint=tuple(tuple(cube.uniform(-0.1, 0.1, 3).tolist()) for _ in range(3)),
                      cube_yaw=float(cube.uniform(0.0, CUBE_YAW)))
    visual = VisualConfig(cameras=views, light_direction=direction,
                          cube_size_scale=float(cube.uniform(*CUBE_SCALE)), table_rgba=table,
                          robot=robot, robot_colors=robot_colors, image_size=image_size,
                          lighting=lighting, scenery=scenery, arm_look=look)
    return Style(arm, sectors, surface, visual, post, seed)


# ---------------------------------------------------------------------------- factors
def _camera(sector: str, rng: np.random.Generator, long_side: float) -> CameraView:
    """A camera in an azimuth sector, aimed near the workspace centre, whose square render is
    ``long_side`` times a frame's short side (its field of view widened to match). Views
    from inside the arm's reach are drawn again."""
    for _ in range(200):
        drawn = _draw_camera(sector, rng, long_side)
        if drawn is not None and not _inside_arm(drawn[1]):
            return drawn[0]
    raise RuntimeError(f"no camera outside the arm's reach in sector {sector!r}")


def _draw_camera(sector: str, rng: np.random.Generator,
                 long_side: float) -> tuple[CameraView, np.ndarray] | None:
    """A camera (and its eye) framing a random width of the scene at a distance the field of
    view bounds allow (None: none for this draw)."""
    ws = Workspace()
    az = float(rng.uniform(*SECTORS[sector]))
    elev = float(rng.uniform(REAR_MIN_ELEVATION if sector == "rear" else ELEVATION[0],
                             ELEVATION[1]))
    width = float(rng.uniform(*FRAMED_WIDTH))
    target = np.array([*ws.center, 0.03]) + rng.uniform([-0.05, -0.05, 0.0], [0.05, 0.05, 0.05])
    a, e = np.radians(az), np.radians(elev)
    near = max(DISTANCE[0], width / (2 * np.tan(np.radians(FOV[1]) / 2)))
    far = min(DISTANCE[1], width / (2 * np.tan(np.radians(FOV[0]) / 2)))
    if sector == "rear":  # over the arm: above its reach
        near = max(near, (ARM_CLEARANCE[1] - target[2]) / np.sin(e))
    if near > far:
        return None
    dist = float(rng.uniform(near, far))
    fov = 2 * np.degrees(np.arctan(width / (2 * dist)))
    eye = target + dist * np.array([np.cos(e) * np.cos(a), np.cos(e) * np.sin(a), np.sin(e)])
    eye_t, target_t = tuple(eye.tolist()), tuple(target.tolist())
    up = rolled_up(eye_t, target_t, float(rng.uniform(-ROLL, ROLL)))  # type: ignore[arg-type]
    square_fov = 2 * np.degrees(np.arctan(np.tan(np.radians(fov) / 2) * long_side))
    view = CameraView(eye=eye_t, target=target_t, fov_deg=float(square_fov),  # type: ignore[arg-type]
                      up=up)
    return view, eye


def _inside_arm(eye: np.ndarray) -> bool:
    """Is a camera at ``eye`` where an arm's links pass (above and around its base)?"""
    return bool(np.hypot(eye[0], eye[1]) < ARM_CLEARANCE[0] and eye[2] < ARM_CLEARANCE[1])


def _light_direction(rng: np.random.Generator, elevation: tuple[float, float]) -> tuple:
    a, e = rng.uniform(0, 2 * np.pi), np.radians(rng.uniform(*elevation))
    return (float(np.cos(e) * np.cos(a)), float(np.cos(e) * np.sin(a)), float(np.sin(e)))


def _surface(family: str, rng: np.random.Generator) -> tuple[tuple, Lighting, tuple, Scenery]:
    """Light direction, lighting, table colour and the floor/table textures of a family."""
    from sim.scenery import (
        PROCEDURAL_VARIANTS, PYBULLET_TEXTURES, procedural_texture, pybullet_texture,
    )

    if family == "wood-shadow":
        direction = _light_direction(rng, (20.0, 45.0))
        warm = (1.0, float(rng.uniform(0.8, 0.9)), float(rng.uniform(0.6, 0.75)))
        lighting = Lighting(ambient=float(rng.uniform(0.2, 0.4)),
                            diffuse=float(rng.uniform(0.6, 0.9)),
                            specular=float(rng.uniform(0.0, 0.3)), color=warm, shadow=True)
        table = (1.0, 1.0, 1.0, 1.0)
        texture = procedural_texture("wood", int(rng.integers(PROCEDURAL_VARIANTS)))
        floor = random_color(rng, grey=0.6)
        return direction, lighting, table, Scenery(floor_rgba=floor, table_texture=texture)
    direction = _light_direction(rng, (25.0, 85.0))
    tint = rng.uniform(0.85, 1.0, 3)
    lighting = Lighting(ambient=float(rng.uniform(0.25, 0.8)), diffuse=float(rng.uniform(0.2, 0.8)),
                        specular=float(rng.uniform(0.0, 0.5)), color=tuple(tint.tolist()),
                        shadow=bool(rng.random() < SHADOW_PROB))
    floor = random_color(rng, grey=0.5) if rng.random() < 0.8 else None
    if family == "solid":
        return direction, lighting, random_color(rng, grey=0.5), Scenery(floor_rgba=floor)
    light_tint = tuple(rng.uniform(0.6, 1.0, 3).tolist()) + (1.0,)
    if family == "pybullet-texture":
        texture = pybullet_texture(str(rng.choice(PYBULLET_TEXTURES)))
    else:
        kind = str(rng.choice(("checker", "stripes", "noise")))
        texture = procedural_texture(kind, int(rng.integers(PROCEDURAL_VARIANTS)))
    floor_tex = None
    if floor is not None and rng.random() < 0.4:
        floor_tex = procedural_texture(str(rng.choice(("checker", "noise"))),
                                       int(rng.integers(PROCEDURAL_VARIANTS)))
    return direction, lighting, light_tint, Scenery(floor_rgba=floor, floor_texture=floor_tex,
                                                    table_texture=texture)


def _arm(family: str, rng: np.random.Generator) -> tuple[str, tuple, ArmLook]:
    """The robot name, the Panda's link colours and the drawn arm's look of an arm family."""
    palette = [random_color(rng) for _ in range(int(rng.integers(1, 4)))]
    paint = tuple(palette[int(rng.integers(len(palette)))] for _ in range(PANDA_LINKS))
    hand = random_color(rng, grey=0.6)
    if family == "panda":
        return "panda", (), ArmLook()
    if family == "panda-painted":
        return "panda", paint, ArmLook()
    if family == "kuka":  # set back: flange down, the iiwa cannot fold nearer its base
        base = (float(rng.uniform(*KUKA_BASE_X)), float(rng.uniform(-0.05, 0.0)), 0.0)
        return "kuka", (), ArmLook(colors=paint if rng.random() < 0.4 else (), hand_rgba=hand,
                                   base=base)
    if family == "xarm":
        return "xarm", (), ArmLook(colors=paint if rng.random() < 0.3 else ())
    base = (float(rng.uniform(-0.2, 0.05)), float(rng.uniform(-0.3, 0.3)), 0.0)
    look = ArmLook(colors=tuple(palette), hand_rgba=hand, base=base,
                   thickness=float(rng.uniform(0.018, 0.045)),
                   shape=str(rng.choice(("box", "cylinder", "capsule"))),
                   elbow_up=bool(rng.random() < 0.7))
    return "procedural", (), look


def _props(rng: np.random.Generator) -> tuple[Prop, ...]:
    """Zero to four props on the table, away from the cubes' area and the arm's base."""
    props = []
    for _ in range(int(rng.integers(0, 5))):
        for _ in range(50):
            x, y = float(rng.uniform(-0.15, 0.85)), float(rng.uniform(-0.55, 0.55))
            in_workspace = 0.28 < x < 0.72 and abs(y) < 0.22
            at_base = x < 0.15 and abs(y) < 0.15
            if not in_workspace and not at_base:
                break
        else:
            continue
        kind = rng.integers(0, 5 + len(MESH_PROPS))
        yaw, rgba = float(rng.uniform(0, 2 * np.pi)), random_color(rng, grey=0.3)
        if kind < 5:
            shape = ("sphere", "cylinder", "capsule", "box", "box")[int(kind)]
            size, length = float(rng.uniform(0.015, 0.05)), float(rng.uniform(0.03, 0.15))
            if shape == "box":  # a slab or a post: never a cube
                length = size * float(rng.choice((rng.uniform(0.3, 0.7), rng.uniform(3.0, 6.0))))
            z = size if shape == "sphere" else length / 2 + (size if shape == "capsule" else 0.0)
            props.append(Prop(shape, size, (x, y, z), yaw, rgba, length))
        else:
            mesh, top, z = MESH_PROPS[int(kind) - 5]
            from sim.assets import data_path

            props.append(Prop(str(data_path(mesh)), float(rng.uniform(0.6, 1.0) * top), (x, y, z),
                              yaw, rgba))
    return tuple(props)
