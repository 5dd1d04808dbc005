"""The world: a headless PyBullet block-stacking arm with the gymnasium API.

Importing ``sim`` registers the ``langstack/...`` gymnasium ids. Only this package imports
pybullet, and only when a world is built: the env names below load on first use, so reading
the world's vocabulary (colours, predicate keys, tasks) stays light.
"""
import importlib
from typing import Any

from sim.cameras import VisualConfig
from sim.objects import COLORS, CUBE_SIZE, Workspace
from sim.predicates import PREDICATE_KEYS, grasping_key, on_top_key
from sim.registration import goal_task_ids, register_envs, task_ids
from sim.tasks import (
    Task, TaskParser, canonical_task, canonical_tasks, grasp_task, named_task, stack_task,
    triple_stack_task,
)

register_envs()

_ENV_NAMES = {"STATE_DIM": "sim.env", "EnvConfig": "sim.env", "StackingEnv": "sim.env",
              "make_env": "sim.env", "GoalStackingEnv": "sim.goal_env"}


def __getattr__(name: str) -> Any:
    """``sim.make_env`` etc., imported from ``sim.env`` / ``sim.goal_env`` (and pybullet) on
    first use."""
    if name in _ENV_NAMES:
        return getattr(importlib.import_module(_ENV_NAMES[name]), name)
    raise AttributeError(f"module 'sim' has no attribute {name!r}")

__all__ = [
    "COLORS", "CUBE_SIZE", "PREDICATE_KEYS", "STATE_DIM", "EnvConfig", "GoalStackingEnv",
    "StackingEnv", "Task", "TaskParser", "VisualConfig", "Workspace", "canonical_task",
    "canonical_tasks", "goal_task_ids", "grasp_task", "grasping_key", "make_env", "named_task",
    "on_top_key", "register_envs", "stack_task", "task_ids", "triple_stack_task",
]
