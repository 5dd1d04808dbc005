"""Tasks: what counts as success, and the instruction that names it.

A task is its goal -- ground-truth predicates that must hold together after a step ("stack red
on blue": ``on_top(red,blue)``) -- or Triple Stack (any tower of the three cubes), with the
instruction that names it. sim reads no free text: its own tasks (one gymnasium id each) are
found by their exact instructions (:func:`named_task`), and any other task is built from its
goal (:meth:`Task.from_goal`). Reading other phrasings is the planner's job; ``experiments``
turns its decomposition into a goal (``experiments.collect_infer.tasks.task_for``).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import permutations

from sim.objects import COLORS
from sim.predicates import grasping_key, key_parts, on_top_key


@dataclass(frozen=True)
class Task:
    """A task: its instruction and the predicates that must hold together for success.

    ``triple`` marks Triple Stack, whose success is any tower of all three cubes.
    """

    instruction: str
    goals: tuple[str, ...] = ()
    triple: bool = False
    optimal_steps: int = 1

    @classmethod
    def from_goal(cls, instruction: str, goal: Iterable[str]) -> Task:
        """The task of reaching ``goal`` (predicate keys that must hold together), named
        ``instruction``; ValueError for an unknown key or a goal that cannot hold at once."""
        if isinstance(goal, str):
            raise ValueError(f"a goal is a list of predicate keys, got the string {goal!r}")
        goals = tuple(dict.fromkeys(goal))
        _check_goal(goals)
        steps = sum(2 if key_parts(k)[0] == "on_top" else 1 for k in goals)
        return cls(instruction.strip(), goals, optimal_steps=steps)

    @property
    def stacks(self) -> tuple[tuple[str, str], ...]:
        """The ``(x, y)`` of each ``on_top(x,y)`` of the goal, in goal order."""
        return tuple((p[1], p[2]) for p in map(key_parts, self.goals) if p[0] == "on_top")

    @property
    def grasp(self) -> str | None:
        """The object the goal has the robot hold, if any."""
        return next((p[1] for p in map(key_parts, self.goals) if p[0] == "grasping"), None)

    def success(self, predicates: dict[str, bool]) -> bool:
        """Whether the task is solved in a scene with these ground-truth predicates."""
        if self.triple:
            return any(predicates[on_top_key(a, b)] and predicates[on_top_key(b, c)]
                       for a, b, c in permutations(COLORS, 3))
        return all(predicates[g] for g in self.goals)


TaskParser = Callable[[str], Task]
"""Reads an instruction into a Task (the env's default: :func:`named_task`)."""


def grasp_task(x: str) -> Task:
    """Grasp X (reward when X is held above the table)."""
    _check(x)
    return Task(f"grasp the {x} object", (grasping_key(x),), optimal_steps=1)


def stack_task(x: str, y: str) -> Task:
    """Stack X on top of Y."""
    _check(x)
    _check(y)
    if x == y:
        raise ValueError(f"cannot stack the {x} object on itself")
    return Task(f"stack the {x} object on top of the {y} object", (on_top_key(x, y),),
                optimal_steps=2)


def triple_stack_task() -> Task:
    """Stack all three objects (any tower)."""
    return Task("stack all three objects", triple=True, optimal_steps=4)


def canonical_tasks() -> tuple[Task, ...]:
    """sim's own tasks, one gymnasium id each: Grasp X (3), Stack X on Y (6), Triple Stack."""
    return (*(grasp_task(x) for x in COLORS),
            *(stack_task(x, y) for x, y in permutations(COLORS, 2)), triple_stack_task())


def canonical_task(instruction: str) -> Task | None:
    """The task of :func:`canonical_tasks` whose instruction this is (ignoring case, spacing
    and a final full stop), else None."""
    text = " ".join(instruction.lower().split()).rstrip(".")
    return next((t for t in canonical_tasks() if t.instruction == text), None)


def named_task(instruction: str) -> Task:
    """:func:`canonical_task`, or a ValueError that lists sim's instructions and the other ways
    to give a task."""
    if not isinstance(instruction, str):
        raise ValueError(f"an instruction is a string, got {type(instruction).__name__}")
    task = canonical_task(instruction)
    if task is None:
        own = "; ".join(repr(t.instruction) for t in canonical_tasks())
        raise ValueError(
            f"the env reads only its own instructions, not {instruction!r}: give it a "
            "task_parser (experiments.collect_infer.tasks.task_parser reads any instruction "
            "the planner reads), a Task, or reset(options={'instruction': ..., 'goal': "
            f"[predicate keys]}}); its own instructions are {own}")
    return task


def _check(color: str) -> None:
    if color not in COLORS:
        raise ValueError(f"unknown colour {color!r}; colours: {', '.join(COLORS)}")


def _check_goal(goals: tuple[str, ...]) -> None:
    """A goal that one scene can satisfy: one grasp at most, towers without branches or loops."""
    if not goals:
        raise ValueError("a task needs a goal: at least one predicate that must hold")
    parts = [key_parts(k) for k in goals]
    held = {p[1] for p in parts if p[0] == "grasping"}
    below: dict[str, str] = {}
    possible = len(held) <= 1
    for _, x, y in (p for p in parts if p[0] == "on_top"):
        possible &= x not in below and y not in below.values() and not held & {x, y}
        below[x] = y
    if not possible or _has_loop(below):
        raise ValueError(f"the goal {', '.join(goals)} cannot hold in one scene")


def _has_loop(below: dict[str, str]) -> bool:
    """Whether following ``x -> the object under x`` ever returns to where it started."""
    for start in below:
        c = below[start]
        for _ in range(len(below)):
            if c == start:
                return True
            if c not in below:
                break
            c = below[c]
    return False
