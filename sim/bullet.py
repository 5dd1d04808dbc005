"""The one module that owns a pybullet client.

Everything else in ``sim/`` talks to physics through :class:`Bullet`, which names bodies
(no integer body ids leak out of this file) and exposes the few calls the world needs.
Each :class:`Bullet` has its own DIRECT client, so several envs live in one process.
"""
from __future__ import annotations

import contextlib
import os
import sys
import time
from typing import Iterator, Sequence

import numpy as np

from sim.cameras import CameraView, Lighting


@contextlib.contextmanager
def silenced(fd: int) -> Iterator[None]:
    """Send a C-level file descriptor to /dev/null (pybullet prints banners from C)."""
    (sys.stdout if fd == 1 else sys.stderr).flush()
    saved = os.dup(fd)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)
        os.close(devnull)


with silenced(2):  # "pybullet build time: ..." on import
    import pybullet as p
    import pybullet_data
    from pybullet_utils import bullet_client

TIMESTEP = 1.0 / 240.0
"""Simulated seconds per physics step (pybullet's default rate). Every motion is timed in
simulated seconds (``sim.robot``) and the motor gain is derived per step (:func:`per_step`), so
this is the one constant to change. 120 Hz was measured and not adopted: with 25 solver
iterations random grasps succeeded half as often; with 35-80 the expert and the random
stages held but random Grasp red still succeeded ~15% less often (55 vs 65 of 150 episodes),
and setting any contact ERP knocked the expert's stacks over (docs/benchmarks.md)."""
SOLVER_ITERATIONS = 25
"""Half pybullet's default: grasps and stacks stay stable (checked by the expert tests) and
contact-rich steps run ~25% faster."""


def per_step(fraction_at_240hz: float) -> float:
    """A fraction corrected per step at 240 Hz, as the fraction per :data:`TIMESTEP` step that
    corrects as much per simulated second (``1 - (1 - f) ** (TIMESTEP * 240)``)."""
    return 1.0 - (1.0 - fraction_at_240hz) ** (TIMESTEP * 240.0)


MOTOR_GAIN = per_step(0.1)
"""positionGain: pybullet's default 0.1, with which the motions were tuned at 240 Hz (a
position motor removes a fraction ``gain`` of its error per step)."""


def steps_for(seconds: float) -> int:
    """Physics steps covering ``seconds`` of simulated time (at least one)."""
    return max(1, round(seconds / TIMESTEP))


class Bullet:
    """A headless physics client with named bodies.

    Args:
        egl: try the EGL hardware renderer plugin (falls back to TinyRenderer, saying so once
            per process on stderr).
    """

    def __init__(self, egl: bool = False) -> None:
        with silenced(1):  # "argv[0]=" on connect would break --json's last line
            self._client = bullet_client.BulletClient(connection_mode=p.DIRECT)
        self._client.setAdditionalSearchPath(pybullet_data.getDataPath())
        self._bodies: dict[str, int] = {}
        self._movable: dict[int, list[int]] = {}
        self._textures: dict[str, int] = {}
        self._renderer = p.ER_TINY_RENDERER
        self._light: tuple[float, float, float] = (0.5, -0.4, 1.0)
        self._lighting: Lighting | None = None
        self.clear()
        self.physics_steps = 0
        self.physics_seconds = 0.0
        """Wall time spent inside stepSimulation (for the overhead benchmark)."""
        if egl:
            self._try_egl()

    # ------------------------------------------------------------------ bodies
    def load_urdf(self, name: str, path: str, position: Sequence[float],
                  orientation: Sequence[float] = (0.0, 0.0, 0.0, 1.0), fixed: bool = False) -> None:
        """Load a URDF (from pybullet_data or an absolute path) under ``name``."""
        flags = p.URDF_ENABLE_CACHED_GRAPHICS_SHAPES
        self._bodies[name] = self._client.loadURDF(
            path, list(position), list(orientation), useFixedBase=fixed, flags=flags
        )

    def create_box(self, name: str, half_extents: Sequence[float], position: Sequence[float],
                   rgba: Sequence[float], mass: float, friction: float = 1.0,
                   spinning: float = 0.001) -> None:
        """Create a box body (mass 0 makes it static)."""
        c = self._client
        col = c.createCollisionShape(p.GEOM_BOX, halfExtents=list(half_extents))
        vis = c.createVisualShape(p.GEOM_BOX, halfExtents=list(half_extents), rgbaColor=list(rgba))
        body = c.createMultiBody(mass, col, vis, basePosition=list(position))
        c.changeDynamics(body, -1, lateralFriction=friction, spinningFriction=spinning,
                         rollingFriction=0.0001,
                         activationState=p.ACTIVATION_STATE_ENABLE_SLEEPING)
        if mass > 0:
            # Created at rest: asleep until an awake body touches it (Bullet then wakes its
            # island), so a cube nobody touches costs no solver time.
            c.changeDynamics(body, -1, activationState=p.ACTIVATION_STATE_SLEEP)
        self._bodies[name] = body

    def create_visual_box(self, name: str, half_extents: Sequence[float],
                          position: Sequence[float], rgba: Sequence[float]) -> None:
        """Create a box that is only drawn: no collision shape, no mass (a prop for rendering)."""
        c = self._client
        vis = c.createVisualShape(p.GEOM_BOX, halfExtents=list(half_extents), rgbaColor=list(rgba))
        self._bodies[name] = c.createMultiBody(0.0, -1, vis, basePosition=list(position))

    def create_visual_shape(self, name: str, shape: str, size: float, position: Sequence[float],
                            rgba: Sequence[float], length: float = 0.1,
                            orientation: Sequence[float] = (0.0, 0.0, 0.0, 1.0)) -> None:
        """A drawn-only body (no collision, no mass): a sphere, cylinder or capsule of radius
        ``size``, a box of half width ``size`` and length ``length`` (along z), or a mesh file
        (pybullet_data's or absolute) scaled by ``size``."""
        c = self._client
        kinds = {"sphere": p.GEOM_SPHERE, "cylinder": p.GEOM_CYLINDER,
                 "capsule": p.GEOM_CAPSULE, "box": p.GEOM_BOX}
        if shape in kinds:  # a box is size x size x length (a cube when length = 2 size)
            vis = c.createVisualShape(kinds[shape], radius=size, length=length,
                                      halfExtents=[size, size, length / 2], rgbaColor=list(rgba))
        else:
            vis = c.createVisualShape(p.GEOM_MESH, fileName=shape, meshScale=[size] * 3,
                                      rgbaColor=list(rgba))
        if vis < 0:
            raise ValueError(f"cannot create a visual shape from {shape!r}")
        self._bodies[name] = c.createMultiBody(0.0, -1, vis, basePosition=list(position),
                                               baseOrientation=list(orientation))

    def set_texture(self, name: str, path: str, link: int = -1) -> None:
        """Draw an image file on a body (or link); loaded once per client."""
        if path not in self._textures:
            tex = self._client.loadTexture(path)
            if tex < 0:
                raise ValueError(f"cannot load texture {path!r}")
            self._textures[path] = tex
        self._client.changeVisualShape(self._bodies[name], link,
                                       textureUniqueId=self._textures[path])

    def link_count(self, name: str) -> int:
        """Links of a body, its base included."""
        return self._client.getNumJoints(self._bodies[name]) + 1

    def hide(self, name: str) -> None:
        """Make every link of a body fully transparent (it still collides and moves)."""
        body = self._bodies[name]
        for link in range(-1, self._client.getNumJoints(body)):
            self._client.changeVisualShape(body, link, rgbaColor=[0.0, 0.0, 0.0, 0.0])

    def visible(self, name: str) -> bool:
        """Whether any visual shape of a body is drawn (alpha > 0)."""
        shapes = self._client.getVisualShapeData(self._bodies[name])
        return any(s[7][3] > 0 for s in shapes)

    def disable_collisions(self, name: str) -> None:
        """Take every link of a body out of collision detection (it can never touch anything)."""
        body = self._bodies[name]
        for link in range(-1, self._client.getNumJoints(body)):
            self._client.setCollisionFilterGroupMask(body, link, 0, 0)

    def body_names(self) -> tuple[str, ...]:
        """Names of the bodies in the simulation, in creation order."""
        return tuple(self._bodies)

    def has_body(self, name: str) -> bool:
        """Whether a body of that name exists."""
        return name in self._bodies

    def set_color(self, name: str, rgba: Sequence[float], link: int = -1) -> None:
        """Change a body's (or link's) colour."""
        self._client.changeVisualShape(self._bodies[name], link, rgbaColor=list(rgba))

    def set_friction(self, name: str, link: int, lateral: float, spinning: float = 0.001) -> None:
        """Set lateral and spinning (torsional) friction of one link."""
        self._client.changeDynamics(self._bodies[name], link, lateralFriction=lateral,
                                    spinningFriction=spinning)

    def pose(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Base position (3,) and quaternion (4,) of a body."""
        pos, orn = self._client.getBasePositionAndOrientation(self._bodies[name])
        return np.asarray(pos), np.asarray(orn)

    def set_pose(self, name: str, position: Sequence[float],
                 orientation: Sequence[float] = (0.0, 0.0, 0.0, 1.0)) -> None:
        """Teleport a body and zero its velocity. A moved body is awake (a sleeping one would
        hang where it was put, and Bullet finds no contacts between two sleeping bodies)."""
        body = self._bodies[name]
        self._client.resetBasePositionAndOrientation(body, list(position), list(orientation))
        self._client.resetBaseVelocity(body, [0.0, 0.0, 0.0], [0.0, 0.0, 0.0])
        self._client.changeDynamics(body, -1, activationState=p.ACTIVATION_STATE_WAKE_UP)

    def in_contact(self, a: str, b: str, link_a: int = -2) -> bool:
        """Whether body ``a`` (optionally only its link ``link_a``) touches body ``b``."""
        kwargs = {} if link_a == -2 else {"linkIndexA": link_a}
        return len(self._client.getContactPoints(self._bodies[a], self._bodies[b], **kwargs)) > 0

    # ------------------------------------------------------------------ joints
    def num_joints(self, name: str) -> int:
        """Number of joints of a body."""
        return self._client.getNumJoints(self._bodies[name])

    def joint_limits(self, name: str, joints: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper limits of the given joints."""
        info = [self._client.getJointInfo(self._bodies[name], j) for j in joints]
        return np.array([i[8] for i in info]), np.array([i[9] for i in info])

    def joint_positions(self, name: str, joints: Sequence[int]) -> np.ndarray:
        """Current positions of the given joints."""
        states = self._client.getJointStates(self._bodies[name], list(joints))
        return np.array([s[0] for s in states])

    def reset_joints(self, name: str, joints: Sequence[int], values: Sequence[float]) -> None:
        """Set joint positions instantly (reset only)."""
        for j, v in zip(joints, values):
            self._client.resetJointState(self._bodies[name], j, float(v), 0.0)

    def drive_joints(self, name: str, joints: Sequence[int], targets: Sequence[float],
                     forces: Sequence[float], gain: float = MOTOR_GAIN) -> None:
        """Position-control motors towards ``targets`` (``gain``: pybullet's positionGain)."""
        n = len(joints)
        self._client.setJointMotorControlArray(
            self._bodies[name], list(joints), p.POSITION_CONTROL, targetPositions=list(targets),
            forces=list(forces), positionGains=[gain] * n, velocityGains=[1.0] * n)

    def link_position(self, name: str, link: int) -> np.ndarray:
        """World position of a link frame."""
        return np.asarray(self._client.getLinkState(self._bodies[name], link)[4])

    def inverse_kinematics(self, name: str, link: int, position: Sequence[float],
                           orientation: Sequence[float], lower: np.ndarray, upper: np.ndarray,
                           rest: np.ndarray) -> np.ndarray:
        """Joint positions placing ``link`` at the pose (null-space IK towards ``rest``)."""
        ranges = upper - lower
        sol = self._client.calculateInverseKinematics(
            self._bodies[name], link, list(position), list(orientation),
            lowerLimits=lower.tolist(), upperLimits=upper.tolist(), jointRanges=ranges.tolist(),
            restPoses=rest.tolist(), maxNumIterations=100, residualThreshold=1e-4)
        return np.asarray(sol)

    # ------------------------------------------------------------------ stepping
    def step(self, n: int = 1) -> None:
        """Advance physics by ``n`` steps of :data:`TIMESTEP`."""
        step = self._client.stepSimulation
        start = time.perf_counter()
        for _ in range(n):
            step()
        self.physics_seconds += time.perf_counter() - start
        self.physics_steps += n

    def refresh_contacts(self) -> None:
        """Recompute contact points without stepping (they are stale after teleports)."""
        self._client.performCollisionDetection()

    def clear(self) -> None:
        """Remove every body and start a fresh simulation with the world's settings.

        Resets rebuild the scene this way: pybullet's saveState/restoreState leaves solver
        and motor warm-starts behind, so an episode would depend on the one before it.
        """
        c = self._client
        c.resetSimulation()
        c.setGravity(0.0, 0.0, -9.81)
        c.setTimeStep(TIMESTEP)
        c.setPhysicsEngineParameter(numSolverIterations=SOLVER_ITERATIONS,
                                    deterministicOverlappingPairs=1)
        self._bodies.clear()
        self._movable.clear()
        self._textures.clear()

    # ------------------------------------------------------------------ poses
    def pose_record(self) -> list[tuple[tuple, tuple, tuple]]:
        """Every body's base pose and movable joint positions: all a render of this instant
        needs (see :meth:`apply_pose_record`)."""
        c = self._client
        record = []
        for body in self._bodies.values():
            pos, orn = c.getBasePositionAndOrientation(body)
            joints = self._movable_joints(body)
            q = tuple(s[0] for s in c.getJointStates(body, joints)) if joints else ()
            record.append((pos, orn, q))
        return record

    def apply_pose_record(self, record: list[tuple[tuple, tuple, tuple]]) -> None:
        """Pose this client's bodies as ``record`` (taken from a client whose bodies were
        created the same way). Teleports: for a client that only renders, never one that steps."""
        c = self._client
        if len(record) != len(self._bodies):
            raise ValueError(f"pose record has {len(record)} bodies, this client {len(self._bodies)}")
        for body, (pos, orn, q) in zip(self._bodies.values(), record):
            c.resetBasePositionAndOrientation(body, pos, orn)
            for j, v in zip(self._movable_joints(body), q):
                c.resetJointState(body, j, v)

    def _movable_joints(self, body: int) -> list[int]:
        if body not in self._movable:
            c = self._client
            self._movable[body] = [j for j in range(c.getNumJoints(body))
                                   if c.getJointInfo(body, j)[2] != p.JOINT_FIXED]
        return self._movable[body]

    # ------------------------------------------------------------------ rendering
    def set_light(self, direction: Sequence[float], lighting: Lighting | None = None) -> None:
        """Direction of the renderer's light, and optionally its strength, ambient level and
        shadows (None: the renderer's defaults without shadows)."""
        self._light = (float(direction[0]), float(direction[1]), float(direction[2]))
        self._lighting = lighting

    def _light_args(self) -> dict:
        lit = self._lighting
        if lit is None:
            return {"shadow": 0}
        return {"shadow": int(lit.shadow), "lightAmbientCoeff": lit.ambient,
                "lightDiffuseCoeff": lit.diffuse, "lightSpecularCoeff": lit.specular,
                "lightColor": list(lit.color), "lightDistance": lit.distance}

    @property
    def tiny_renderer(self) -> bool:
        """Whether images come from TinyRenderer (no anti-aliasing, alpha-0 bodies skipped:
        a static background can be composited exactly, see ``World.render_as_posed``)."""
        return self._renderer == p.ER_TINY_RENDERER

    def render(self, view: CameraView, size: int) -> np.ndarray:
        """One RGB image (size, size, 3) uint8 from ``view``."""
        return self.render_rgbd(view, size)[0]

    def render_rgbd(self, view: CameraView, size: int) -> tuple[np.ndarray, np.ndarray]:
        """One RGB image (size, size, 3) uint8 and its depth buffer (size, size) float32
        (TinyRenderer's z-buffer: 1.0 where nothing is drawn, smaller is nearer)."""
        c = self._client
        view_m = c.computeViewMatrix(view.eye, view.target, view.up)
        proj_m = c.computeProjectionMatrixFOV(view.fov_deg, 1.0, 0.05, 5.0)
        _, _, rgba, depth, _ = c.getCameraImage(
            size, size, view_m, proj_m, lightDirection=list(self._light),
            renderer=self._renderer, flags=p.ER_NO_SEGMENTATION_MASK, **self._light_args())
        rgba = np.asarray(rgba, dtype=np.uint8).reshape(size, size, 4)  # (H, W, RGBA)
        return rgba[:, :, :3], np.asarray(depth, dtype=np.float32).reshape(size, size)

    def visible_pixels(self, view: CameraView, size: int, names: Sequence[str]) -> np.ndarray:
        """Pixels of each body in ``names`` seen from ``view`` in a ``size`` square render
        (a segmentation pass: hidden bodies neither count nor occlude)."""
        c = self._client
        view_m = c.computeViewMatrix(view.eye, view.target, view.up)
        proj_m = c.computeProjectionMatrixFOV(view.fov_deg, 1.0, 0.05, 5.0)
        seg = c.getCameraImage(size, size, view_m, proj_m, renderer=self._renderer, shadow=0)[4]
        seg = np.asarray(seg, dtype=np.int64).reshape(size, size)
        return np.array([int((seg == self._bodies[n]).sum()) for n in names])

    def close(self) -> None:
        """Disconnect the client (idempotent)."""
        try:
            self._client.disconnect()
        except p.error:
            pass

    def _try_egl(self) -> None:
        reason = "the eglRenderer plugin is not installed"
        try:
            import pkgutil

            egl = pkgutil.get_loader("eglRenderer")
            if egl is not None:
                plugin = self._client.loadPlugin(egl.get_filename(), "_eglRendererPlugin")
                if plugin >= 0:
                    self._renderer = p.ER_BULLET_HARDWARE_OPENGL
                    return
                reason = "the eglRenderer plugin did not load"
        except Exception as exc:  # EGL is optional; TinyRenderer always works headless
            reason = " ".join(f"{type(exc).__name__}: {exc}".split())
        self._renderer = p.ER_TINY_RENDERER
        _egl_fallback(reason)


_egl_warned = False


def _egl_fallback(reason: str) -> None:
    """Say once per process that EGL was asked for and TinyRenderer is used instead."""
    global _egl_warned
    if not _egl_warned:
        _egl_warned = True
        print(f"sim: EGL rendering unavailable ({reason}); using TinyRenderer", file=sys.stderr,
              flush=True)
