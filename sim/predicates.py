"""Ground-truth predicates computed from the simulator: ``grasping(X)`` and ``on_top(X,Y)``.

These are for evaluation, data captioning and the oracle detector only; the framework agent
never reads them. Keys match ``perception.captions.caption_to_predicate``.
"""
from __future__ import annotations

from itertools import permutations

import numpy as np

from sim.bullet import Bullet
from sim.objects import COLORS
from sim.robot import FINGER_JOINTS, Panda

GRASP_MIN_LIFT = 0.005
"""A held cube must be lifted at least this far off whatever it rests on (metres)."""


def grasping_key(x: str) -> str:
    """Predicate key ``grasping(x)``."""
    return f"grasping({x})"


def on_top_key(x: str, y: str) -> str:
    """Predicate key ``on_top(x,y)``."""
    return f"on_top({x},{y})"


PREDICATE_KEYS: tuple[str, ...] = tuple(grasping_key(c) for c in COLORS) + tuple(
    on_top_key(x, y) for x, y in permutations(COLORS, 2))


def is_grasped(bullet: Bullet, robot_name: str, cube: str) -> bool:
    """Both fingers touch the cube and it touches nothing below it: it hangs in the hand."""
    fingers = all(bullet.in_contact(robot_name, cube, link_a=j) for j in FINGER_JOINTS)
    if not fingers:
        return False
    return not bullet.in_contact(cube, "table") and not any(
        bullet.in_contact(cube, other) for other in COLORS
        if other != cube and bullet.pose(other)[0][2] < bullet.pose(cube)[0][2])


def is_on_top(bullet: Bullet, x: str, y: str, size: float) -> bool:
    """``x`` rests on ``y``: in contact, one cube-height above it, and horizontally over it."""
    px, py = bullet.pose(x)[0], bullet.pose(y)[0]
    dz = px[2] - py[2]
    return bool(0.75 * size < dz < 1.25 * size
                and np.linalg.norm(px[:2] - py[:2]) < 0.75 * size
                and bullet.in_contact(x, y))


def compute_predicates(bullet: Bullet, robot: Panda, size: float) -> dict[str, bool]:
    """All predicates of the current scene, keyed as :data:`PREDICATE_KEYS`."""
    held = {c: is_grasped(bullet, robot.name, c) for c in COLORS}
    preds = {grasping_key(c): held[c] for c in COLORS}
    for x, y in permutations(COLORS, 2):
        preds[on_top_key(x, y)] = not held[x] and is_on_top(bullet, x, y, size)
    return preds
