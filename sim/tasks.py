"""Tasks: what counts as success, and the instruction that names it.

A task is a conjunction of ground-truth predicates that must hold together after a step
("stack red on blue": ``on_top(red,blue)``), or Triple Stack (any tower of the three cubes).
``task_from_instruction`` reads the task family in its plain forms; the planner (``planner/``)
is the component that understands open phrasing.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import permutations

from sim.objects import COLORS
from sim.predicates import grasping_key, on_top_key

_NOUN = r"(?:\s+(?:object|block|cube|one))?"
_COLOR = r"(?:the\s+)?(red|green|blue)" + _NOUN
_GRASP_RE = re.compile(rf"^(?:grasp|pick up|pick|grab)\s+{_COLOR}$")
_STACK_RE = re.compile(
    rf"^(?:(?:stack|put|place)\s+)?{_COLOR}\s+(?:on top of|onto|on)\s+{_COLOR}$")
_TRIPLE_RE = re.compile(r"^stack all(?: the)? three(?: objects| blocks| cubes)?$")
_SPLIT_RE = re.compile(r"\s*(?:,\s*and then|,\s*then|\band then\b|\bthen\b|,)\s*")

UNDERSTOOD = ("'grasp the red object', 'stack the red object on top of the blue object', "
              "'stack all three objects', or steps joined by 'then' (colours: red, green, blue)")


@dataclass(frozen=True)
class Task:
    """A task: its instruction and the predicates that must hold together for success.

    ``triple`` marks Triple Stack, whose success is any tower of all three cubes.
    """

    instruction: str
    goals: tuple[str, ...] = ()
    triple: bool = False
    optimal_steps: int = 1

    def success(self, predicates: dict[str, bool]) -> bool:
        """Whether the task is solved in a scene with these ground-truth predicates."""
        if self.triple:
            return any(predicates[on_top_key(a, b)] and predicates[on_top_key(b, c)]
                       for a, b, c in permutations(COLORS, 3))
        return all(predicates[g] for g in self.goals)


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


def task_from_instruction(instruction: str) -> Task:
    """The task an instruction names; raises ValueError (saying what is understood) otherwise."""
    if not isinstance(instruction, str) or not instruction.strip():
        raise ValueError(f"empty instruction; understood: {UNDERSTOOD}")
    text = re.sub(r"[.!?]+$", "", " ".join(instruction.lower().split()))
    parts = [p for p in _SPLIT_RE.split(text) if p]
    tasks = [_single(p, instruction) for p in parts]
    if len(tasks) == 1:
        return tasks[0]
    if any(t.triple for t in tasks):
        raise ValueError(f"'stack all three objects' cannot be part of a sequence: {instruction!r}")
    goals: list[str] = []
    for i, t in enumerate(tasks):
        last = i == len(tasks) - 1
        goals += [g for g in t.goals if g.startswith("on_top") or last]
    if not goals:
        raise ValueError(f"a sequence must stack something: {instruction!r}")
    return Task(instruction.strip(), tuple(dict.fromkeys(goals)),
                optimal_steps=sum(t.optimal_steps for t in tasks))


def _single(part: str, whole: str) -> Task:
    if _TRIPLE_RE.match(part):
        return triple_stack_task()
    if m := _GRASP_RE.match(part):
        return grasp_task(m.group(1))
    if m := _STACK_RE.match(part):
        return stack_task(m.group(1), m.group(2))
    raise ValueError(f"cannot read {part!r} in instruction {whole!r}; understood: {UNDERSTOOD}")


def _check(color: str) -> None:
    if color not in COLORS:
        raise ValueError(f"unknown colour {color!r}; colours: {', '.join(COLORS)}")
