"""The sub-goal captions vocabulary: the one home of the paper's caption templates.

The planner emits exactly these strings, the detector scores exactly these strings and the
agent pursues them. The objects are the world's (``sim.objects.COLORS``, re-exported here as
part of the vocabulary). Each caption also names the ground-truth predicate it describes, by
the key under which ``sim`` reports it in ``info["predicates"]`` (``sim.predicates``); only
evaluation and the oracle detector read those.
"""
from __future__ import annotations

import re
from itertools import permutations

from sim.objects import COLORS
from sim.predicates import grasping_key, on_top_key

__all__ = [
    "CAPTIONS", "COLORS", "GRASP_CAPTIONS", "GRASP_RE", "GRASP_TEMPLATE", "ON_TOP_CAPTIONS",
    "ON_TOP_RE", "ON_TOP_TEMPLATE", "caption_to_predicate", "captions_from_predicates",
    "check_caption", "grasp_caption", "on_top_caption", "predicate_to_caption",
]

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

_PREDICATES: dict[str, str] = {grasp_caption(c): grasping_key(c) for c in COLORS} | {
    on_top_caption(x, y): on_top_key(x, y) for x, y in permutations(COLORS, 2)
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
