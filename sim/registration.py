"""gymnasium ids under ``langstack/``: Grasp X (3), Stack X on Y (6), Triple Stack, Instruction,
and the goal-conditioned (HER) variant of each task that is a goal of predicates."""
from __future__ import annotations

from itertools import permutations

import gymnasium as gym

from sim.objects import COLORS
from sim.tasks import grasp_task, stack_task, triple_stack_task

ENTRY_POINT = "sim.env:StackingEnv"
GOAL_ENTRY_POINT = "sim.goal_env:GoalStackingEnv"


def task_ids() -> dict[str, str]:
    """Every id of :class:`sim.env.StackingEnv` mapped to its instruction ("" for the generic
    Instruction id); the goal-conditioned ids are :func:`goal_task_ids`."""
    ids = {f"langstack/Grasp{x.capitalize()}-v0": grasp_task(x).instruction for x in COLORS}
    for x, y in permutations(COLORS, 2):
        ids[f"langstack/Stack{x.capitalize()}On{y.capitalize()}-v0"] = stack_task(x, y).instruction
    ids["langstack/TripleStack-v0"] = triple_stack_task().instruction
    ids["langstack/Instruction-v0"] = ""
    return ids


def goal_task_ids() -> dict[str, str]:
    """The goal-conditioned ids (:class:`sim.goal_env.GoalStackingEnv`) mapped to their
    instructions: ``langstack/Goal<Task>-v0`` for Grasp X, Stack X on Y and Instruction (whose
    task must be a goal of predicates); Triple Stack ("any tower") has none."""
    return {env_id.replace("langstack/", "langstack/Goal"): instruction
            for env_id, instruction in task_ids().items() if not env_id.endswith("TripleStack-v0")}


def register_envs() -> None:
    """Register all ids (idempotent). ``gym.make(id, config=EnvConfig(...))`` passes options;
    ``Instruction-v0`` also takes ``task_parser=`` (see :class:`sim.env.StackingEnv`)."""
    for ids, entry_point in ((task_ids(), ENTRY_POINT), (goal_task_ids(), GOAL_ENTRY_POINT)):
        for env_id, instruction in ids.items():
            if env_id in gym.registry:
                continue
            kwargs = {"task": instruction} if instruction else {}
            gym.register(id=env_id, entry_point=entry_point, kwargs=kwargs)
