"""The sim Task of an instruction, read by the planner: one grammar for every command.

The planner is the only reader of free text. It accepts an instruction or refuses it (with
its own message, the same for ``plan``, ``train``, ``run``, ``eval`` and the env), and the
end state of its plan (``planner.goal_of_plan``) is the task's goal:

- an instruction that sim names itself (``sim.canonical_task``: the instructions of its
  gymnasium ids) is sim's task, whatever the planner makes of it -- as the env reads it;
- a goal one of sim's tasks has is that task, with its name and its success test (Triple
  Stack, whose goal is that of the planner's plan for "stack all three objects", succeeds
  with any tower);
- any other goal is a task of its own (``sim.Task.from_goal``), named by the instruction.
"""
from __future__ import annotations

from functools import partial

from planner import Planner, goal_of_plan
from sim.tasks import Task, TaskParser, canonical_task, canonical_tasks


def task_for_instruction(instruction: str, planner: Planner) -> Task:
    """The Task ``instruction`` asks for, as ``planner`` reads it (its ``PlannerError`` if it
    refuses the instruction)."""
    plan = planner.plan(instruction)
    named = canonical_task(instruction)
    if named is not None:
        return named
    goal = goal_of_plan(plan)
    same = (t for t in canonical_tasks() if _goal(t, planner) == frozenset(goal))
    return next(same, None) or Task.from_goal(instruction, goal)


def _goal(task: Task, planner: Planner) -> frozenset[str]:
    """The goal of one of sim's tasks (Triple Stack's: that of the planner's tower)."""
    if task.triple:
        return frozenset(goal_of_plan(planner.plan(task.instruction)))
    return frozenset(task.goals)


def task_for(instruction: str, planner_kind: str = "auto") -> Task:
    """:func:`task_for_instruction` with the process's planner of ``planner_kind`` ("auto",
    "flan-t5" or "grammar"; FLAN-T5 is loaded once)."""
    from experiments.collect_infer.prepare import cached_planner

    return task_for_instruction(instruction, cached_planner(planner_kind))


def task_parser(planner_kind: str = "auto") -> TaskParser:
    """An instruction reader for ``langstack/Instruction-v0`` (``gym.make(...,
    task_parser=task_parser())``) that accepts whatever the planner accepts."""
    return partial(task_for, planner_kind=planner_kind)
