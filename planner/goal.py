"""What a plan achieves: the ground-truth predicates that hold once its sub-goals are reached.

A grasp lifts its object (off whatever it rested on) and an on-top caption sets the object
down on another; the goal of a plan is the stacks standing at its end, plus the grasp when
it ends holding an object. The predicates are named by ``perception.captions`` (the keys
``sim`` reports), so a goal can be handed to ``sim.Task.from_goal``.
"""
from __future__ import annotations

from collections.abc import Sequence

from perception.captions import (
    GRASP_RE, ON_TOP_RE, caption_to_predicate, check_caption, grasp_caption, on_top_caption,
)
from planner.base import PlannerError


def goal_of_plan(captions: Sequence[str]) -> tuple[str, ...]:
    """Predicate keys that hold at the end of ``captions`` (stacks in the order they were made).

    Raises ``PlannerError`` for a plan no scene can follow (an object moved, or stacked onto,
    while another one is on top of it) and ``ValueError`` for a string that is not a caption.
    """
    below: dict[str, str] = {}  # object -> the object it rests on
    held: str | None = None
    for caption in captions:
        if m := GRASP_RE.match(check_caption(caption)):
            _check_clear(captions, below, m.group(1))
            below.pop(m.group(1), None)
            held = m.group(1)
        elif m := ON_TOP_RE.match(caption):
            x, y = m.groups()
            _check_clear(captions, below, x)
            below.pop(x, None)
            _check_clear(captions, below, y)
            below[x] = y
            held = None
    keys = [caption_to_predicate(on_top_caption(x, y)) for x, y in below.items()]
    return tuple(keys + ([caption_to_predicate(grasp_caption(held))] if held else []))


def _check_clear(captions: Sequence[str], below: dict[str, str], x: str) -> None:
    above = next((o for o, under in below.items() if under == x), None)
    if above is not None:
        raise PlannerError(f"the plan {list(captions)} cannot be followed: it moves or stacks "
                           f"onto the {x} object while the {above} object is on top of it")
