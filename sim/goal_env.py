"""The goal-conditioned env, in gymnasium-robotics ``GoalEnv`` style (for HER).

Observation: ``{"observation": (13,) float32 state, "achieved_goal": (9,) float32,
"desired_goal": (9,) float32}``. A goal vector has one entry per predicate of
:data:`sim.predicates.PREDICATE_KEYS` (in that order): the achieved goal is 1 where the
predicate holds in the scene, the desired goal is 1 at the task's goal predicates. A desired
goal is reached when every predicate it asks for holds (others may hold too), which is the
task's own success for every task whose goal is a set of predicates (Grasp X, Stack X on Y,
:meth:`sim.tasks.Task.from_goal`); Triple Stack ("any tower") is not one, so it has no goal env.

``compute_reward`` is 1.0 where the desired goal is reached, else 0.0 (the env's sparse reward),
``compute_terminated`` is where it is reached (success ends the episode), and
``compute_truncated`` is all False: truncation is the horizon, which ``step`` counts.
HER relabelling with a goal achieved when nothing held (all zeros) asks for nothing, so it is
reached by every transition: the sparse reward's own reading of an empty goal.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from gymnasium import spaces

from sim.env import STATE_DIM, EnvConfig, StackingEnv
from sim.predicates import PREDICATE_KEYS, key_parts
from sim.tasks import Task, TaskParser

GOAL_DIM = len(PREDICATE_KEYS)


def goal_vector(keys: Iterable[str]) -> np.ndarray:
    """(9,) float32: 1 at each of these predicate keys, 0 elsewhere."""
    wanted = set(keys)
    for key in wanted:
        key_parts(key)  # ValueError for an unknown key
    return np.array([k in wanted for k in PREDICATE_KEYS], dtype=np.float32)


def predicate_vector(predicates: dict[str, bool]) -> np.ndarray:
    """(9,) float32: the ground-truth predicates of a scene, 1 where they hold."""
    return np.array([predicates[k] for k in PREDICATE_KEYS], dtype=np.float32)


def goal_reached(achieved_goal: np.ndarray, desired_goal: np.ndarray) -> np.ndarray:
    """Whether every desired predicate is achieved: bool of shape ``batch`` for goals of
    shape ``(*batch, 9)``."""
    achieved, desired = np.asarray(achieved_goal) > 0.5, np.asarray(desired_goal) > 0.5
    return np.all(achieved | ~desired, axis=-1)


class GoalStackingEnv(StackingEnv):
    """:class:`sim.env.StackingEnv` with goal observations and GoalEnv's compute methods.

    State only: the default config is ``EnvConfig(render=False)``; a config that renders
    is refused (the images would be computed and dropped)."""

    def __init__(self, task: Task | str | None = None, config: EnvConfig | None = None,
                 render_mode: str | None = None, task_parser: TaskParser | None = None) -> None:
        config = config or EnvConfig(render=False)
        if config.render:
            raise ValueError("the goal env is state only: give it EnvConfig(render=False)")
        super().__init__(task, config, render_mode=render_mode, task_parser=task_parser)
        if self.task is not None:
            _check_goal_task(self.task)
        state = spaces.Box(-np.inf, np.inf, (STATE_DIM,), dtype=np.float32)
        goal = spaces.Box(0.0, 1.0, (GOAL_DIM,), dtype=np.float32)
        self.observation_space = spaces.Dict(
            {"observation": state, "achieved_goal": goal, "desired_goal": goal})

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        obs, _, _, truncated, info = super().step(action)
        achieved, desired = obs["achieved_goal"], obs["desired_goal"]
        reward = float(self.compute_reward(achieved, desired, info))
        terminated = bool(self.compute_terminated(achieved, desired, info))
        truncated = (truncated or bool(self.compute_truncated(achieved, desired, info))) \
            and not terminated
        info["is_success"] = terminated
        return obs, reward, terminated, truncated, info

    def compute_reward(self, achieved_goal: np.ndarray, desired_goal: np.ndarray,
                       info: Any) -> np.ndarray:
        """1.0 where every desired predicate is achieved, else 0.0 (shape ``batch``)."""
        return goal_reached(achieved_goal, desired_goal).astype(np.float64)

    def compute_terminated(self, achieved_goal: np.ndarray, desired_goal: np.ndarray,
                           info: Any) -> np.ndarray:
        """Success ends the episode: True where the desired goal is reached."""
        return goal_reached(achieved_goal, desired_goal)

    def compute_truncated(self, achieved_goal: np.ndarray, desired_goal: np.ndarray,
                          info: Any) -> np.ndarray:
        """All False: goals never truncate (the horizon does, in ``step``)."""
        return np.zeros(np.shape(achieved_goal)[:-1], dtype=bool)

    def _task_from(self, options: dict[str, Any]) -> Task | None:
        task = super()._task_from(options)
        if task is not None:
            _check_goal_task(task)
        return task

    def _obs(self) -> dict[str, np.ndarray]:
        assert self.task is not None
        return {"observation": self.world.state_vector(),
                "achieved_goal": predicate_vector(self.world.scene().predicates),
                "desired_goal": goal_vector(self.task.goals)}


def _check_goal_task(task: Task) -> None:
    if task.triple or not task.goals:
        raise ValueError(
            f"the goal env needs a goal of predicates, and {task.instruction!r} has none "
            "(Triple Stack is any tower): give one tower, e.g. Task.from_goal(..., "
            "['on_top(red,green)', 'on_top(green,blue)'])")
