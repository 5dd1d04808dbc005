"""gymnasium ids under ``langstack/``: Grasp X (3), Stack X on Y (6), Triple Stack, Instruction."""
from __future__ import annotations

from itertools import permutations

import gymnasium as gym

from sim.objects import COLORS
from sim.tasks import grasp_task, stack_task, triple_stack_task

ENTRY_POINT = "sim.env:StackingEnv"


def task_ids() -> dict[str, str]:
    """Every registered id mapped to its instruction ("" for the generic Instruction id)."""
    ids = {f"langstack/Grasp{x.capitalize()}-v0": grasp_task(x).instruction for x in COLORS}
    for x, y in permutations(COLORS, 2):
        ids[f"langstack/Stack{x.capitalize()}On{y.capitalize()}-v0"] = stack_task(x, y).instruction
    ids["langstack/TripleStack-v0"] = triple_stack_task().instruction
    ids["langstack/Instruction-v0"] = ""
    return ids


def register_envs() -> None:
    """Register all ids (idempotent). ``gym.make(id, config=EnvConfig(...))`` passes options;
    ``Instruction-v0`` also takes ``task_parser=`` (see :class:`sim.env.StackingEnv`)."""
    for env_id, instruction in task_ids().items():
        if env_id in gym.registry:
            continue
        kwargs = {"task": instruction} if instruction else {}
        gym.register(id=env_id, entry_point=ENTRY_POINT, kwargs=kwargs)
