"""Another arm as the "external agent" of demo videos: a KUKA iiwa that mirrors the Panda.

How the cubes are carried: the Panda still does the physics. It is hidden (every visual
shape fully transparent) but keeps its collisions, motors and grip, so the cubes move exactly
as in the training world and the ground-truth predicates stay meaningful. Before every
rendered frame the KUKA iiwa from pybullet_data (no collisions, fixed base) is posed by
inverse kinematics so that its flange sits above the Panda's grasp point, gripper down, and a
drawn two-finger hand (boxes without collision shapes) opens as wide as the Panda's fingers.
The video therefore shows a different robot doing the task; nothing the KUKA does can push
a cube. The iiwa ships without a gripper, hence the drawn hand. :mod:`sim.arms` adds the
xArm 6 with its gripper and procedurally built arms; :data:`EXTERNAL_ARMS` names them all.
"""
from __future__ import annotations

import numpy as np

from sim.arms import ProceduralArm, XArm, paint_links
from sim.bullet import Bullet
from sim.cameras import ArmLook

KUKA_URDF = "kuka_iiwa/model.urdf"
KUKA_JOINTS = (0, 1, 2, 3, 4, 5, 6)
FLANGE_LINK = 6
"""``lbr_iiwa_link_7``: the flange the hand is mounted on."""
DOWN = (1.0, 0.0, 0.0, 0.0)
"""Flange axis pointing down."""
REST = np.array([0.0, 0.6, 0.0, -1.3, 0.0, 1.2, 0.0])
"""Null-space target of the IK: elbow up, like a person would pose the arm."""
PALM_HALF = (0.018, 0.06, 0.012)
FINGER_HALF = (0.009, 0.005, 0.032)
FINGER_CENTER_Z = 0.02
"""Height of the finger centres above the grasp point (metres)."""
HAND_LENGTH = FINGER_CENTER_Z + FINGER_HALF[2] + 2 * PALM_HALF[2]
"""Flange to grasp point (metres): fingers, then the palm, then the flange."""
IK_PASSES = 3
IK_TOLERANCE = 0.002


class KukaArm:
    """A KUKA iiwa puppet: ``follow`` poses it at a grasp point with a finger opening."""

    name = "kuka"
    hand_parts = ("kuka_palm", "kuka_finger_left", "kuka_finger_right")

    def __init__(self, bullet: Bullet, look: ArmLook = ArmLook()) -> None:
        self.bullet = bullet
        bullet.load_urdf(self.name, KUKA_URDF, look.base, fixed=True)
        bullet.disable_collisions(self.name)
        paint_links(bullet, self.name, look.colors)
        lower, upper = bullet.joint_limits(self.name, KUKA_JOINTS)
        self._lower, self._upper = lower, upper
        bullet.reset_joints(self.name, KUKA_JOINTS, REST)
        for part in self.hand_parts:
            half = PALM_HALF if part == "kuka_palm" else FINGER_HALF
            bullet.create_visual_box(part, half, (0.0, 0.0, -1.0), look.hand_rgba)

    def follow(self, grasp_point: np.ndarray, finger_opening: float) -> float:
        """Pose the arm and hand at ``grasp_point``; returns the flange's IK error (metres)."""
        flange = np.asarray(grasp_point, dtype=np.float64) + (0.0, 0.0, HAND_LENGTH)
        error = np.inf
        for _ in range(IK_PASSES):  # IK starts from the current joints: refine a few times
            q = self.bullet.inverse_kinematics(self.name, FLANGE_LINK, flange, DOWN, self._lower,
                                               self._upper, REST)[:len(KUKA_JOINTS)]
            self.bullet.reset_joints(self.name, KUKA_JOINTS, q)
            reached = self.bullet.link_position(self.name, FLANGE_LINK)
            error = float(np.linalg.norm(reached - flange))
            if error < IK_TOLERANCE:
                break
        self._pose_hand(np.asarray(grasp_point, dtype=np.float64), finger_opening)
        return error

    def _pose_hand(self, grasp: np.ndarray, opening: float) -> None:
        palm_z = FINGER_CENTER_Z + FINGER_HALF[2] + PALM_HALF[2]
        self.bullet.set_pose("kuka_palm", grasp + (0.0, 0.0, palm_z))
        offset = opening / 2 + FINGER_HALF[1]  # fingers close along the world y axis
        self.bullet.set_pose("kuka_finger_left", grasp + (0.0, offset, FINGER_CENTER_Z))
        self.bullet.set_pose("kuka_finger_right", grasp + (0.0, -offset, FINGER_CENTER_Z))


ExternalArm = KukaArm | XArm | ProceduralArm
EXTERNAL_ARMS: dict[str, type[ExternalArm]] = {"kuka": KukaArm, "xarm": XArm,
                                               "procedural": ProceduralArm}
"""Arms that can stand in for the Panda in rendered frames (``VisualConfig.robot``), each
built as ``cls(bullet, visual.arm_look)`` (see also :mod:`sim.arms`)."""
