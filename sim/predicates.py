"""Ground-truth predicates computed from the simulator: ``grasping(X)`` and ``on_top(X,Y)``.

The one home of the predicate keys (``perception.captions`` maps its captions onto them).
These are for evaluation, data captioning and the oracle detector only; the framework agent
never reads them.
"""
from __future__ import annotations

from itertools import permutations
from typing import TYPE_CHECKING

import numpy as np

from sim.objects import COLORS

if TYPE_CHECKING:  # the keys above the physics need no pybullet: captions and planner read them
    from sim.bullet import Bullet
    from sim.robot import Panda


def grasping_key(x: str) -> str:
    """Predicate key ``grasping(x)``."""
    return f"grasping({x})"


def on_top_key(x: str, y: str) -> str:
    """Predicate key ``on_top(x,y)``."""
    return f"on_top({x},{y})"


PREDICATE_KEYS: tuple[str, ...] = tuple(grasping_key(c) for c in COLORS) + tuple(
    on_top_key(x, y) for x, y in permutations(COLORS, 2))
"""All 9 keys, in a fixed order (grasping red/green/blue, then the on-top pairs)."""

_PARTS: dict[str, tuple[str, ...]] = {grasping_key(c): ("grasping", c) for c in COLORS} | {
    on_top_key(x, y): ("on_top", x, y) for x, y in permutations(COLORS, 2)}


def key_parts(key: str) -> tuple[str, ...]:
    """``("grasping", x)`` or ``("on_top", x, y)`` of a predicate key; ValueError if unknown."""
    if key not in _PARTS:
        raise ValueError(f"unknown predicate {key!r}; predicates are: {', '.join(PREDICATE_KEYS)}")
    return _PARTS[key]


def held_cubes(bullet: Bullet, robot: Panda, size: float) -> set[str]:
    """The cubes hanging in the hand.

    The fingers clamp either one cube (both fingers touch it) or two cubes side by side
    (each finger touches one, and they touch each other: picked together, both hang in the
    hand, and the cameras show the arm holding them). A clamped cube is held if it touches
    neither the table nor a cube at least half a cube-height below it (that one supports it).
    """
    fingers = robot.finger_joints
    touch = {c: {j for j in fingers if bullet.in_contact(robot.name, c, link_a=j)}
             for c in COLORS}
    clamped = {c for c in COLORS if len(touch[c]) == len(fingers)}
    for a, b in permutations(COLORS, 2):
        if touch[a] and touch[b] and touch[a] | touch[b] == set(fingers) \
                and bullet.in_contact(a, b):
            clamped |= {a, b}
    return {c for c in clamped if not _supported(bullet, c, size)}


def _supported(bullet: Bullet, cube: str, size: float) -> bool:
    z = bullet.pose(cube)[0][2]
    return bullet.in_contact(cube, "table") or any(
        bullet.in_contact(cube, other) for other in COLORS
        if other != cube and bullet.pose(other)[0][2] < z - 0.5 * size)


def is_on_top(bullet: Bullet, x: str, y: str, size: float) -> bool:
    """``x`` rests on ``y``: in contact, one cube-height above it, and horizontally over it."""
    px, py = bullet.pose(x)[0], bullet.pose(y)[0]
    dz = px[2] - py[2]
    return bool(0.75 * size < dz < 1.25 * size
                and np.linalg.norm(px[:2] - py[:2]) < 0.75 * size
                and bullet.in_contact(x, y))


def compute_predicates(bullet: Bullet, robot: Panda, size: float) -> dict[str, bool]:
    """All predicates of the current scene, keyed as :data:`PREDICATE_KEYS`."""
    in_hand = held_cubes(bullet, robot, size)
    held = {c: c in in_hand for c in COLORS}
    preds = {grasping_key(c): held[c] for c in COLORS}
    for x, y in permutations(COLORS, 2):
        preds[on_top_key(x, y)] = not held[x] and is_on_top(bullet, x, y, size)
    return preds
