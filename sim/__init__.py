"""The world: a headless PyBullet block-stacking arm with the gymnasium API.

Importing ``sim`` registers the ``langstack/...`` gymnasium ids. Only this package imports
pybullet.
"""
from sim.cameras import VisualConfig
from sim.env import STATE_DIM, EnvConfig, StackingEnv, make_env
from sim.objects import COLORS, CUBE_SIZE, Workspace
from sim.registration import register_envs, task_ids
from sim.tasks import Task, grasp_task, stack_task, task_from_instruction, triple_stack_task

register_envs()

__all__ = [
    "COLORS", "CUBE_SIZE", "STATE_DIM", "EnvConfig", "StackingEnv", "Task", "VisualConfig",
    "Workspace", "grasp_task", "make_env", "register_envs", "stack_task", "task_from_instruction",
    "task_ids", "triple_stack_task",
]
