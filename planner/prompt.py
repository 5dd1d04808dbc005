"""The few-shot prompt of the paper: environment, request, two worked examples, the task."""
from __future__ import annotations

from perception.captions import (
    COLORS, GRASP_TEMPLATE, ON_TOP_TEMPLATE, grasp_caption, on_top_caption,
)
from planner.parse import format_plan

_OBJECTS = ", ".join(f"a {c} object" for c in COLORS[:-1]) + f" and a {COLORS[-1]} object"
ENVIRONMENT = (
    f"A robot arm is in front of a table with three objects on it: {_OBJECTS}. The robot can "
    "grasp one object at a time and put the object it holds on top of another object."
)
REQUEST = (
    "List the sub-goals that complete the task, in order, as a numbered list separated by "
    f"semicolons. Use only sentences of the form '{GRASP_TEMPLATE.format(x='X')}' and "
    f"'{ON_TOP_TEMPLATE.format(x='X', y='Y')}'."
)
EXAMPLES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "stack the red object on top of the blue object",
        (grasp_caption("red"), on_top_caption("red", "blue")),
    ),
    (
        "stack all three objects",
        (grasp_caption("green"), on_top_caption("green", "blue"),
         grasp_caption("red"), on_top_caption("red", "green")),
    ),
)
"""Two worked examples (task -> captions): a Stack and the Triple Stack."""


def build_prompt(instruction: str) -> str:
    """The full prompt for ``instruction``; the model continues after ``Sub-goals:``."""
    shots = "\n\n".join(f"Task: {task}\nSub-goals: {format_plan(plan)}" for task, plan in EXAMPLES)
    return f"{ENVIRONMENT}\n{REQUEST}\n\n{shots}\n\nTask: {instruction.strip()}\nSub-goals:"
