"""The sub-goal captions vocabulary: the one home of the paper's caption templates.

The planner emits exactly these strings, the detector scores exactly these strings and the
agent pursues them. Each caption also names the ground-truth predicate it describes
(``grasping(red)``, ``on_top(red,blue)``), the key under which ``sim`` reports it in
``info["predicates"]``; only evaluation and the oracle detector read those.
"""
from __future__ import annotations

import re
from itertools import permutations

COLORS: tuple[str, ...] = ("red", "green", "blue")

GRASP_TEMPLATE = "the robot is grasping the {x} object"
ON_TOP_TEMPLATE = "the {x} object is on top of the {y} object"
GRASP_RE = re.compile("^" + GRASP_TEMPLATE.format(x=r"(\w+)") + "$")
"""Matches a grasp caption; group 1 is the colour."""
ON_TOP_RE = re.compile("^" + ON_TOP_TEMPLATE.format(x=r"(\w+)", y=r"(\w+)") + "$")
"""Matches an on-top caption; groups 1 and 2 are the top and bottom colours."""


def _check_color(c: str) -> None:
    if c not in COLORS:
        raise ValueError(f"unknown colour {c!r}; known colours: {', '.join(COLORS)}")


def grasp_caption(x: str) -> str:
    """Caption for "the robot holds object ``x``"."""
    _check_color(x)
    return GRASP_TEMPLATE.format(x=x)


def on_top_caption(x: str, y: str) -> str:
    """Caption for "object ``x`` rests on object ``y``"."""
    _check_color(x)
    _check_color(y)
    if x == y:
        raise ValueError(f"an object cannot be on top of itself: {x!r}")
    return ON_TOP_TEMPLATE.format(x=x, y=y)


GRASP_CAPTIONS: tuple[str, ...] = tuple(grasp_caption(c) for c in COLORS)
ON_TOP_CAPTIONS: tuple[str, ...] = tuple(on_top_caption(x, y) for x, y in permutations(COLORS, 2))
CAPTIONS: tuple[str, ...] = GRASP_CAPTIONS + ON_TOP_CAPTIONS
"""All 9 captions, in a fixed order (grasp red/green/blue, then on-top pairs)."""

_PREDICATES: dict[str, str] = {grasp_caption(c): f"grasping({c})" for c in COLORS} | {
    on_top_caption(x, y): f"on_top({x},{y})" for x, y in permutations(COLORS, 2)
}
_CAPTIONS_BY_PREDICATE: dict[str, str] = {v: k for k, v in _PREDICATES.items()}


def check_caption(caption: str) -> str:
    """Return ``caption`` if it is in the vocabulary, else raise a ValueError listing it."""
    if caption not in _PREDICATES:
        raise ValueError(
            f"unknown caption {caption!r}; captions are: " + "; ".join(CAPTIONS)
        )
    return caption


def caption_to_predicate(caption: str) -> str:
    """Ground-truth predicate key (as in ``info["predicates"]``) of a caption."""
    return _PREDICATES[check_caption(caption)]


def predicate_to_caption(key: str) -> str:
    """Caption of a ground-truth predicate key such as ``"on_top(red,blue)"``."""
    if key not in _CAPTIONS_BY_PREDICATE:
        raise ValueError(f"unknown predicate {key!r}")
    return _CAPTIONS_BY_PREDICATE[key]


def captions_from_predicates(predicates: dict[str, bool]) -> list[str]:
    """The captions whose predicates are true, in vocabulary order."""
    return [c for c in CAPTIONS if predicates.get(_PREDICATES[c], False)]
