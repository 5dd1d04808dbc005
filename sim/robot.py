"""The Franka Panda (from pybullet_data) and its pick-and-place primitive.

The primitive is the paper's action: an (x, y) table position where the arm picks when its
gripper is empty and places when it holds an object. The arm moves by inverse kinematics and
position-controlled motors; the cube is carried by the real fingers (friction), never teleported.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from sim.assets import panda_urdf
from sim.bullet import Bullet, steps_for

ARM_JOINTS = (0, 1, 2, 3, 4, 5, 6)
FINGER_JOINTS = (9, 10)
EE_LINK = 11
"""``panda_grasptarget``: the point between the fingertips."""
NEUTRAL = np.array([0.0, 0.25, 0.0, -2.2, 0.0, 2.45, 0.785])
ARM_FORCES = (87.0, 87.0, 87.0, 87.0, 12.0, 120.0, 120.0)
FINGER_FORCE = 60.0
SPIN = 0.05
"""Torsional friction of the finger pads: a held cube must not pivot between them."""
MAX_JOINT_STEP = 0.09
"""Largest joint-target increment (rad) per ramp chunk of RAMP_S seconds."""
# Motion timing, in simulated seconds (the physics rate, ``sim.bullet.TIMESTEP``, only sets how
# many steps each takes; the motor gain keeps the same convergence per second at any rate).
RAMP_S = 4 / 240
"""Duration of one ramp chunk."""
CHECK_S = 6 / 240
"""How often a settling motion checks whether it has arrived."""
MOVE_TIMEOUT_S = 300 / 240
"""Longest a motion may settle (e.g. fingers blocked by a cube)."""
GRIPPER_CHECK_S = 4 / 240
GRIPPER_TIMEOUT_S = 40 / 240
SQUEEZE_S = 6 / 240
"""Settling after the fingers switch to the symmetric squeeze."""
RELEASE_S = 10 / 240
"""Settling after the fingers open over a place."""
SQUEEZE = 0.003
"""How far past contact each finger is driven while holding (metres)."""
FINGER_OPEN = 0.04
"""Per-finger opening when open (total 0.08 m)."""
DOWN = (1.0, 0.0, 0.0, 0.0)
"""Gripper pointing down, fingers closing along the world y axis."""
SAFE_Z = 0.18
"""Height of the grasp point while travelling between picks and places."""

MoveHook = Callable[[], None]


class Panda:
    """A Panda arm owning its motion primitives. ``name`` is its body name in ``Bullet``."""

    name = "panda"
    finger_joints = FINGER_JOINTS
    """The finger links a held cube touches (``sim.predicates`` reads them off the robot)."""

    def __init__(self, bullet: Bullet, base_position: tuple[float, float, float] = (0.0, 0.0, 0.0),
                 low_poly: bool = True):
        self.bullet = bullet
        bullet.load_urdf(self.name, panda_urdf(low_poly), base_position, fixed=True)
        for j in FINGER_JOINTS:
            bullet.set_friction(self.name, j, lateral=1.5, spinning=SPIN)
        lower, upper = bullet.joint_limits(self.name, ARM_JOINTS)
        self._lower, self._upper = lower, upper
        self._n_dof = 9  # IK returns one value per movable joint: 7 arm + 2 fingers
        self._ik_lower = np.concatenate([lower, [0.0, 0.0]])
        self._ik_upper = np.concatenate([upper, [FINGER_OPEN, FINGER_OPEN]])
        self._ik_rest = np.concatenate([NEUTRAL, [FINGER_OPEN, FINGER_OPEN]])
        self._finger_target = FINGER_OPEN
        self.on_substep: MoveHook | None = None
        """Called every few physics steps during a motion (mid-motion rendering)."""
        self.hook_every = 0

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        """Neutral pose above the table, gripper open."""
        self.bullet.reset_joints(self.name, ARM_JOINTS, NEUTRAL)
        self.bullet.reset_joints(self.name, FINGER_JOINTS, (FINGER_OPEN, FINGER_OPEN))
        self._finger_target = FINGER_OPEN
        self.bullet.drive_joints(self.name, ARM_JOINTS, NEUTRAL, ARM_FORCES)
        self._drive_fingers()

    def ee_position(self) -> np.ndarray:
        """World position of the grasp point."""
        return self.bullet.link_position(self.name, EE_LINK)

    def finger_opening(self) -> float:
        """Distance between the fingers (metres)."""
        return float(self.bullet.joint_positions(self.name, FINGER_JOINTS).sum())

    # ------------------------------------------------------------------ motion
    def move_to(self, target: np.ndarray, tol: float = 0.004,
                timeout_s: float = MOVE_TIMEOUT_S) -> None:
        """Drive the grasp point to ``target`` (gripper down) by IK + position control.

        The motor targets follow a smooth (ease-in/out) joint-space ramp, so a held cube is
        not jerked out of the fingers when a motion starts or stops.
        """
        q_goal = self.bullet.inverse_kinematics(self.name, EE_LINK, target, DOWN, self._ik_lower,
                                                self._ik_upper, self._ik_rest)[:7]
        q_start = self._arm_q()
        n_chunks = int(np.ceil(np.abs(q_goal - q_start).max() / MAX_JOINT_STEP))
        for k in range(1, n_chunks + 1):
            u = k / n_chunks
            u = u * u * (3.0 - 2.0 * u)  # smoothstep: zero velocity at both ends
            self.bullet.drive_joints(self.name, ARM_JOINTS, q_start + u * (q_goal - q_start),
                                     ARM_FORCES)
            self._advance(steps_for(RAMP_S))
        self._run_until(lambda: np.abs(self._arm_q() - q_goal).max() < tol, timeout_s)

    def open_gripper(self, timeout_s: float = GRIPPER_TIMEOUT_S) -> None:
        """Open the fingers fully."""
        self._finger_target = FINGER_OPEN
        self._drive_fingers()
        self._run_until(lambda: self.finger_opening() > 2 * FINGER_OPEN - 0.004, timeout_s)

    def close_gripper(self, timeout_s: float = GRIPPER_TIMEOUT_S) -> None:
        """Close the fingers (they stop on a cube and keep squeezing)."""
        self._finger_target = 0.0
        self._drive_fingers()
        last = [self.finger_opening()]

        def settled() -> bool:
            now = self.finger_opening()
            done = abs(now - last[0]) < 2e-4
            last[0] = now
            return done

        self._run_until(settled, timeout_s, check_s=GRIPPER_CHECK_S)
        # Independent finger motors let a held cube drift sideways with the finger pair;
        # holding both fingers at one symmetric squeeze target keeps it centred in the hand.
        self._finger_target = max(self.finger_opening() / 2 - SQUEEZE, 0.0)
        self._drive_fingers()
        self.bullet.step(steps_for(SQUEEZE_S))

    def pick(self, xy: np.ndarray, grasp_z: float) -> None:
        """Pick at ``xy`` with the fingertips centred at height ``grasp_z``."""
        self.open_gripper()
        self.move_to(np.array([xy[0], xy[1], SAFE_Z]))
        self.move_to(np.array([xy[0], xy[1], grasp_z + 0.06]))
        self.move_to(np.array([xy[0], xy[1], grasp_z]), tol=0.003)
        self.close_gripper()
        self.move_to(np.array([xy[0], xy[1], SAFE_Z]), tol=0.01)

    def place(self, xy: np.ndarray, release_z: float) -> None:
        """Place the held object at ``xy``, lowering the grasp point to ``release_z``."""
        self.move_to(np.array([xy[0], xy[1], SAFE_Z]))
        self.move_to(np.array([xy[0], xy[1], release_z + 0.04]))
        self.move_to(np.array([xy[0], xy[1], release_z]), tol=0.003)
        self.open_gripper()
        self.bullet.step(steps_for(RELEASE_S))
        self.move_to(np.array([xy[0], xy[1], SAFE_Z]), tol=0.01)

    # ------------------------------------------------------------------ helpers
    def _arm_q(self) -> np.ndarray:
        return self.bullet.joint_positions(self.name, ARM_JOINTS)

    def _drive_fingers(self) -> None:
        t = self._finger_target
        self.bullet.drive_joints(self.name, FINGER_JOINTS, (t, t), (FINGER_FORCE, FINGER_FORCE))

    def _advance(self, n: int) -> None:
        """Step physics, calling the mid-motion hook every ``hook_every`` steps."""
        before = self.bullet.physics_steps
        self.bullet.step(n)
        if self.on_substep is not None and self.hook_every:
            if before // self.hook_every != self.bullet.physics_steps // self.hook_every:
                self.on_substep()

    def _run_until(self, done: Callable[[], bool], timeout_s: float,
                   check_s: float = CHECK_S) -> None:
        """Step physics until ``done()`` (checked every ``check_s``) or ``timeout_s`` passed."""
        check, limit = steps_for(check_s), steps_for(timeout_s)
        steps = 0
        while steps < limit:
            self._advance(check)
            steps += check
            if done():
                return
