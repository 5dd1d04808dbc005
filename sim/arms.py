"""More arms for demo videos: the xArm 6 with its gripper, and procedurally built arms.

Like the KUKA (:mod:`sim.external_arm`), these are puppets: the hidden Panda does the physics
and, before every rendered frame, the puppet is posed so that its grasp point is the Panda's
and its fingers open as wide. Nothing here has a collision shape.

* :class:`XArm`: ``xarm/xarm6_with_gripper.urdf`` from pybullet_data, posed by inverse
  kinematics (gripper down, fingers closing along the world y axis, like the Panda's), its
  six gripper joints set from the finger opening.
* :class:`ProceduralArm`: a base column, an upper arm and a forearm (boxes, cylinders or
  capsules) posed by two-link planar geometry in the vertical plane through the base and the
  wrist, then a wrist, a palm and two fingers: an arm no dataset has seen, whose shape and
  colours :class:`sim.cameras.ArmLook` draws.
"""
from __future__ import annotations

import numpy as np

from sim.bullet import Bullet
from sim.cameras import ArmLook

XARM_URDF = "xarm/xarm6_with_gripper.urdf"
XARM_JOINTS = (1, 2, 3, 4, 5, 6)
XARM_FLANGE = 6
XARM_GRIPPER = (8, 9, 10, 11, 12, 13)
"""The drive joint and the five joints that mimic it."""
XARM_TCP = 0.147
"""Flange to the point between the fingertip pads (metres)."""
XARM_GAP = (0.082, 0.097)
"""Finger gap at drive angle a: ``GAP[0] - GAP[1] * a`` (measured), for a in [0, 0.85]."""
XARM_REST = np.array([0.0, -0.3, -0.9, 0.0, 1.2, 0.0])
DOWN = (1.0, 0.0, 0.0, 0.0)
IK_PASSES = 3
IK_TOLERANCE = 0.002


def paint_links(bullet: Bullet, name: str, colors: tuple) -> None:
    """Paint a body's links with ``colors``, base first, cycled (empty: keep its own)."""
    if colors:
        for link in range(-1, bullet.link_count(name) - 1):
            bullet.set_color(name, colors[(link + 1) % len(colors)], link=link)


class XArm:
    """A UFactory xArm 6 with its two-finger gripper, as a puppet."""

    name = "xarm"

    def __init__(self, bullet: Bullet, look: ArmLook = ArmLook()) -> None:
        self.bullet = bullet
        bullet.load_urdf(self.name, XARM_URDF, look.base, fixed=True)
        bullet.disable_collisions(self.name)
        paint_links(bullet, self.name, look.colors)
        if bullet.num_joints(self.name) != XARM_GRIPPER[-1] + 1:
            raise RuntimeError(f"{XARM_URDF} does not have the joints this puppet drives")
        movable = XARM_JOINTS + XARM_GRIPPER
        lower, upper = bullet.joint_limits(self.name, movable)
        self._lower, self._upper = lower, upper
        self._rest = np.concatenate([XARM_REST, np.zeros(len(XARM_GRIPPER))])
        bullet.reset_joints(self.name, XARM_JOINTS, XARM_REST)

    def follow(self, grasp_point: np.ndarray, finger_opening: float) -> float:
        """Pose the arm at ``grasp_point`` with the fingers ``finger_opening`` apart; returns
        the flange's IK error (metres)."""
        flange = np.asarray(grasp_point, dtype=np.float64) + (0.0, 0.0, XARM_TCP)
        error = np.inf
        for _ in range(IK_PASSES):
            q = self.bullet.inverse_kinematics(self.name, XARM_FLANGE, flange, DOWN, self._lower,
                                               self._upper, self._rest)[:len(XARM_JOINTS)]
            self.bullet.reset_joints(self.name, XARM_JOINTS, q)
            reached = self.bullet.link_position(self.name, XARM_FLANGE)
            error = float(np.linalg.norm(reached - flange))
            if error < IK_TOLERANCE:
                break
        angle = float(np.clip((XARM_GAP[0] - finger_opening) / XARM_GAP[1], 0.0, 0.85))
        self.bullet.reset_joints(self.name, XARM_GRIPPER, [angle] * len(XARM_GRIPPER))
        return error


def _quat_z_to(direction: np.ndarray) -> tuple[float, float, float, float]:
    """Quaternion (x, y, z, w) turning the z axis onto ``direction``."""
    d = direction / np.linalg.norm(direction)
    z = np.array([0.0, 0.0, 1.0])
    axis = np.cross(z, d)
    s = np.linalg.norm(axis)
    if s < 1e-9:
        return (0.0, 0.0, 0.0, 1.0) if d[2] > 0 else (1.0, 0.0, 0.0, 0.0)
    angle = np.arctan2(s, float(np.dot(z, d)))
    axis = axis / s * np.sin(angle / 2)
    return (float(axis[0]), float(axis[1]), float(axis[2]), float(np.cos(angle / 2)))


class ProceduralArm:
    """A simple arm built from primitive shapes, posed by two-link geometry."""

    name = "procedural"
    WRIST = 0.09
    """Wrist joint to the grasp point (metres): wrist link, palm, fingers."""
    FINGER = (0.009, 0.006, 0.03)
    """Finger half extents (x, y, z)."""
    PALM = (0.02, 0.06, 0.012)

    def __init__(self, bullet: Bullet, look: ArmLook = ArmLook()) -> None:
        self.bullet = bullet
        self.look = look
        self.base = np.asarray(look.base, dtype=np.float64)
        t = look.thickness
        self.shoulder = self.base + (0.0, 0.0, 0.22 + 2 * t)
        corner = np.array([0.62, 0.12 if self.base[1] <= 0 else -0.12, 0.2])  # far and high
        far = np.linalg.norm(corner - self.shoulder)
        self.lengths = (0.55 * far + 0.05, 0.55 * far + 0.05)
        """Upper arm and forearm: long enough for every place on the table and high above it."""
        self.colors = look.colors or ((0.6, 0.6, 0.62, 1.0), (0.25, 0.25, 0.28, 1.0))
        self._parts: list[str] = []
        column = self.shoulder[2] - self.base[2]
        shape = _shape(look.shape)
        self._column = self._part(shape, t * 1.3, column, 0)
        self._joints = [self._part("sphere", t * 1.25, 0.0, 1) for _ in range(3)]
        self._links = [self._part(shape, t, length, 0) for length in self.lengths]
        self._wrist = self._part(shape, t * 0.7, self.WRIST - 0.055, 1)
        self._palm = self._box(self.PALM, look.hand_rgba)
        self._fingers = [self._box(self.FINGER, look.hand_rgba) for _ in range(2)]
        self.bullet.set_pose(self._column, self.base + (0.0, 0.0, column / 2))

    def _part(self, shape: str, size: float, length: float, i: int) -> str:
        name = f"{self.name}_{len(self._parts)}"
        self.bullet.create_visual_shape(name, shape, size, (0.0, 0.0, -1.0),
                                        self.colors[i % len(self.colors)], length=length)
        self._parts.append(name)
        return name

    def _box(self, half: tuple[float, float, float], rgba: tuple) -> str:
        name = f"{self.name}_{len(self._parts)}"
        self.bullet.create_visual_box(name, half, (0.0, 0.0, -1.0), rgba)
        self._parts.append(name)
        return name

    def follow(self, grasp_point: np.ndarray, finger_opening: float) -> float:
        """Pose the arm at ``grasp_point``; returns how far the wrist misses its target."""
        grasp = np.asarray(grasp_point, dtype=np.float64)
        wrist = grasp + (0.0, 0.0, self.WRIST)
        elbow, reached = self._elbow(wrist)
        for name, point in zip(self._joints, (self.shoulder, elbow, reached)):
            self.bullet.set_pose(name, point)
        for name, (a, b) in zip(self._links, ((self.shoulder, elbow), (elbow, reached))):
            self._segment(name, a, b)
        self._segment(self._wrist, reached, grasp + (0.0, 0.0, 0.055))
        palm_z = self.FINGER[2] + 0.02 + self.PALM[2]
        self.bullet.set_pose(self._palm, grasp + (0.0, 0.0, palm_z))
        offset = finger_opening / 2 + self.FINGER[1]
        for name, side in zip(self._fingers, (1.0, -1.0)):
            self.bullet.set_pose(name, grasp + (0.0, side * offset, 0.02))
        return float(np.linalg.norm(reached - wrist))

    def _elbow(self, wrist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Elbow position and the wrist position reached (the target, or as near as the
        links go)."""
        l1, l2 = self.lengths
        d = wrist - self.shoulder
        dist = float(np.linalg.norm(d))
        dist_c = float(np.clip(dist, abs(l1 - l2) + 1e-3, l1 + l2 - 1e-3))
        reached = self.shoulder + d / max(dist, 1e-9) * dist_c
        along = (l1 ** 2 - l2 ** 2 + dist_c ** 2) / (2 * dist_c)
        height = np.sqrt(max(l1 ** 2 - along ** 2, 0.0))
        u = d / max(dist, 1e-9)
        if self.look.elbow_up:  # bend within the vertical plane, elbow above
            perp = np.array([0.0, 0.0, 1.0]) - u[2] * u
        else:  # bend sideways, away from the table's middle
            perp = np.cross(u, np.array([0.0, 0.0, 1.0])) + 0.3 * np.array([0.0, 0.0, 1.0])
        perp /= max(np.linalg.norm(perp), 1e-9)
        return self.shoulder + u * along + perp * height, reached

    def _segment(self, name: str, a: np.ndarray, b: np.ndarray) -> None:
        self.bullet.set_pose(name, (a + b) / 2, _quat_z_to(b - a))


def _shape(shape: str) -> str:
    """A link's primitive (ValueError for anything else)."""
    if shape not in ("box", "cylinder", "capsule"):
        raise ValueError(f"arm link shape must be box, cylinder or capsule, got {shape!r}")
    return shape
