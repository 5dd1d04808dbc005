"""The gymnasium environment: a World (arm + cubes) composed with a Task.

Action: an (x, y) table position in metres. The arm picks there when its gripper is empty and
places there when it holds a cube (the paper's pick-and-place primitive).
Observation: ``{"state": (13,) float32, "rgb": (2, 128, 128, 3) uint8}``; with
``EnvConfig(render=False)`` (state only) ``{"state": (13,) float32}``, its space likewise.
``info``: the instruction, ``is_success``, what the step did, and the ground-truth
``predicates`` (for evaluation only: the framework agent must not read them).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from sim.bullet import steps_for
from sim.cameras import VisualConfig
from sim.motion import MotionFrames, ShadowWorld
from sim.objects import Workspace
from sim.tasks import Task, TaskParser, named_task
from sim.world import Scene, World

STATE_DIM = 13
MOTION_FRAME_S = 0.1
"""Simulated seconds between the instants a primitive records for mid-motion frames."""


@dataclass(frozen=True)
class EnvConfig:
    """Environment options."""

    horizon: int = 10
    """Steps per episode before truncation (the optimum is 1, 2 and 4 steps for Grasp, Stack
    and Triple Stack)."""
    render: bool = True
    """Include camera images in observations (False: state only, much faster)."""
    motion_frames: int = 0
    """Also render this many frames during each primitive (``info["motion_frames"]``, with
    their ``motion_predicates`` and ``motion_states``)."""
    lazy_motion: bool = False
    """Render a mid-motion frame only when it is read: ``info["motion_frames"]`` is then a
    :class:`sim.motion.MotionFrames`, the same images, readable until the next reset (for
    callers that keep a few of them, such as the detector's dataset)."""
    visual: VisualConfig = field(default_factory=VisualConfig)
    workspace: Workspace = field(default_factory=Workspace)
    egl: bool = False
    """Try the EGL renderer (TinyRenderer, headless, is always the fallback)."""


class StackingEnv(gym.Env):
    """Pick-and-place block stacking with a Franka Panda (headless PyBullet)."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}

    def __init__(self, task: Task | str | None = None, config: EnvConfig | None = None,
                 render_mode: str | None = None, task_parser: TaskParser | None = None) -> None:
        """``task``: a Task, or an instruction that ``task_parser`` reads (default
        :func:`sim.tasks.named_task`: sim's own instructions only; pass the planner's reader,
        ``experiments.collect_infer.tasks.task_parser()``, for any other phrasing)."""
        self.config = config or EnvConfig()
        if self.config.horizon < 1:
            raise ValueError(f"horizon must be >= 1, got {self.config.horizon}")
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.render_mode = render_mode
        self.task_parser = task_parser or named_task
        self.task: Task | None = self.task_parser(task) if isinstance(task, str) else task
        self.world = World(self.config.visual, self.config.workspace, egl=self.config.egl)
        ws = self.config.workspace
        self.action_space = spaces.Box(ws.action_low, ws.action_high, dtype=np.float32)
        obs_spaces: dict[str, spaces.Space] = {
            "state": spaces.Box(-np.inf, np.inf, (STATE_DIM,), dtype=np.float32)}
        if self.config.render:
            size, n_cams = self.config.visual.image_size, len(self.config.visual.cameras)
            obs_spaces["rgb"] = spaces.Box(0, 255, (n_cams, size, size, 3), dtype=np.uint8)
        self.observation_space = spaces.Dict(obs_spaces)
        self._steps = 0
        self._motion: list[tuple[Any, dict[str, bool], np.ndarray]] = []
        """(frame or pose record, predicates, state) of each recorded mid-motion instant."""
        lazy = self.config.lazy_motion and self.config.motion_frames > 0
        self._shadow = ShadowWorld(self.world) if lazy else None
        self._lazy: list[MotionFrames] = []

    # ------------------------------------------------------------------ gym API
    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        super().reset(seed=seed)
        self.task = self._task_from(options or {}) or self.task
        if self.task is None:
            raise ValueError("this env has no task: pass options={'instruction': ...} to reset()")
        self._invalidate_motion()
        if self._shadow is not None:
            self._shadow.reset_like(self.np_random)  # a copy: draws what world.reset draws
        self.world.reset(self.np_random)
        self._steps = 0
        scene = self.world.scene()
        return self._obs(), self._info(scene, clipped=False, primitive="reset")

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        if self.task is None:
            raise RuntimeError("call reset() before step()")
        xy, clipped = self._check_action(action)
        held = self.world.scene().held
        self._motion = []
        self._start_motion_recording()
        if held is None:
            self.world.pick(xy)
            primitive = "pick"
        else:
            self.world.place(xy, held)
            primitive = "place"
        self.world.robot.on_substep = None
        self._steps += 1
        scene = self.world.scene()
        success = self.task.success(scene.predicates)
        info = self._info(scene, clipped=clipped, primitive=primitive)
        if self.config.motion_frames:
            (info["motion_frames"], info["motion_predicates"],
             info["motion_states"]) = self._motion_frames()
        truncated = self._steps >= self.config.horizon and not success
        return self._obs(), float(success), success, truncated, info

    def render(self) -> np.ndarray | None:
        """The first camera's image (render_mode "rgb_array")."""
        if self.render_mode != "rgb_array":
            return None
        return self.world.render()[0]

    def close(self) -> None:
        self._invalidate_motion()
        if self._shadow is not None:
            self._shadow.close()
        self.world.close()

    # ------------------------------------------------------------------ helpers
    def _task_from(self, options: dict[str, Any]) -> Task | None:
        """The task ``reset`` options give: ``{"task": Task}``, ``{"instruction": text,
        "goal": [predicate keys]}``, or ``{"instruction": text}`` (read by the task parser)."""
        if "task" in options:
            if not isinstance(options["task"], Task):
                raise ValueError(f"options['task'] must be a sim Task, got {options['task']!r}")
            return options["task"]
        if "instruction" not in options:
            return None
        if "goal" in options:
            return Task.from_goal(options["instruction"], options["goal"])
        return self.task_parser(options["instruction"])

    def scene(self) -> Scene:
        """True scene state (for the scripted expert and evaluation)."""
        return self.world.scene()

    @property
    def cube_size(self) -> float:
        """Edge length of the cubes in this world."""
        return self.world.cube_size

    def _check_action(self, action: Any) -> tuple[np.ndarray, bool]:
        a = np.asarray(action, dtype=np.float64).reshape(-1)
        if a.shape != (2,):
            raise ValueError(f"action must be an (x, y) table position, got shape {np.shape(action)}")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"action must be finite, got {a.tolist()}")
        clipped = np.clip(a, self.action_space.low, self.action_space.high)
        return clipped, bool(np.any(clipped != a))

    def _obs(self) -> dict[str, np.ndarray]:
        obs = {"state": self.world.state_vector()}
        if self.config.render:
            obs["rgb"] = self.world.render()
        return obs

    def _info(self, scene: Scene, clipped: bool, primitive: str) -> dict[str, Any]:
        assert self.task is not None
        return {"instruction": self.task.instruction, "predicates": scene.predicates,
                "is_success": self.task.success(scene.predicates), "action_clipped": clipped,
                "primitive": primitive, "held": scene.held}

    def _start_motion_recording(self) -> None:
        if not self.config.motion_frames:
            return
        robot = self.world.robot
        robot.hook_every = steps_for(MOTION_FRAME_S)
        robot.on_substep = self._record_instant

    def _record_instant(self) -> None:
        if self._shadow is not None:  # lazy: poses now, pixels when read
            self.world.pose_external()
            frame: Any = self.world.bullet.pose_record()
        else:
            frame = self.world.render()
        self._motion.append((frame, self.world.scene().predicates, self.world.state_vector()))

    def _invalidate_motion(self) -> None:
        """The world is about to be rebuilt: lazy frames handed out can no longer be drawn."""
        for frames in self._lazy:
            frames.invalidate()
        self._lazy = []

    def _motion_frames(self) -> tuple[np.ndarray | MotionFrames, list[dict[str, bool]], np.ndarray]:
        """Mid-primitive renders, their predicates and their (13,) state vectors."""
        k = self.config.motion_frames
        if not self._motion:
            size, n = self.config.visual.image_size, len(self.config.visual.cameras)
            return (np.zeros((0, n, size, size, 3), np.uint8), [],
                    np.zeros((0, STATE_DIM), np.float32))
        idx = np.linspace(0, len(self._motion) - 1, min(k, len(self._motion))).round().astype(int)
        states = np.stack([self._motion[i][2] for i in idx])  # (k, 13)
        preds = [self._motion[i][1] for i in idx]
        if self._shadow is not None:
            lazy = MotionFrames(self._shadow, [self._motion[i][0] for i in idx])
            self._lazy.append(lazy)
            return lazy, preds, states
        frames = np.stack([self._motion[i][0] for i in idx])  # (k, n_cams, H, W, 3)
        return frames, preds, states


def make_env(task: Task | str | None = None, config: EnvConfig | None = None,
             render_mode: str | None = None, task_parser: TaskParser | None = None) -> StackingEnv:
    """A StackingEnv for a task or instruction (unwrapped: no gym wrappers)."""
    return StackingEnv(task, config, render_mode=render_mode, task_parser=task_parser)
