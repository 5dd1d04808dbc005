"""Planner output <-> captions: the list format of the few-shot prompt, and its parser.

T5's sentencepiece vocabulary has no newline, so a plan is written on one line as a numbered
list separated by semicolons: ``1. the robot is grasping the red object; 2. the red object is
on top of the blue object``. The parser splits on ``;`` (and on newlines or a bare ``2.``
numbering), canonicalises each item (case, numbering, punctuation, articles, "block"/"cube"/"one"
-> "object") and validates it against ``perception.captions``. Any item it cannot map raises a
``PlanParseError`` naming it: a plan is never silently shortened.
"""
from __future__ import annotations

import re
from collections.abc import Sequence

from perception.captions import (
    GRASP_TEMPLATE, ON_TOP_TEMPLATE, check_caption, grasp_caption, on_top_caption,
)
from planner.base import PlanParseError

SEPARATOR = "; "
"""Between the items of a plan in the prompt and in the model's output."""

_SPLIT = re.compile(r"[;\n]|\s(?=\d+\s*[.)]\s)")
_NUMBERING = re.compile(r"^\s*(?:\d+\s*[.):]|[-*\u2022])\s*")
_ARTICLES = {"the", "a", "an"}
_NOUNS = {"object", "block", "cube", "one"}
_FORMS = f"'{GRASP_TEMPLATE.format(x='X')}' or '{ON_TOP_TEMPLATE.format(x='X', y='Y')}'"


def format_plan(captions: Sequence[str]) -> str:
    """``1. caption; 2. caption`` -- the one-line list the prompt's examples use."""
    return SEPARATOR.join(f"{i}. {c}" for i, c in enumerate(captions, 1))


def canonical_caption(item: str) -> str:
    """The vocabulary caption an output item means; ``PlanParseError`` if there is none."""
    words = [w for w in re.findall(r"[a-z]+", _NUMBERING.sub("", item.lower())) if w not in _ARTICLES]
    words = ["object" if w in _NOUNS else w for w in words]
    try:
        if words[:3] == ["robot", "is", "grasping"] and _is_ref(words[3:]):
            return check_caption(grasp_caption(words[3]))
        if "is" in words:
            i = words.index("is")
            x, rel, y = words[:i], words[i + 1 : i + 4], words[i + 4 :]
            if _is_ref(x) and rel == ["on", "top", "of"] and _is_ref(y):
                return check_caption(on_top_caption(words[0], words[i + 4]))
    except ValueError as exc:  # unknown colour, or an object on itself
        raise PlanParseError(f"sub-goal {item.strip()!r} is not valid: {exc}") from None
    raise PlanParseError(f"sub-goal {item.strip()!r} is not a caption of the form {_FORMS}")


def _is_ref(words: list[str]) -> bool:
    """``[colour]`` or ``[colour, "object"]`` (articles already removed)."""
    return len(words) in (1, 2) and words[1:] in ([], ["object"]) and words[0] != "object"


def parse_plan(text: str) -> list[str]:
    """All captions of a model output, in order; ``PlanParseError`` names the first bad item."""
    parts = (_NUMBERING.sub("", p.strip()).strip(" \t.,") for p in _SPLIT.split(text))
    items = [p for p in parts if p]
    if not items:
        raise PlanParseError(f"the planner output {text.strip()!r} contains no sub-goals")
    captions = []
    for n, item in enumerate(items, 1):
        try:
            captions.append(canonical_caption(item))
        except PlanParseError as exc:
            where = f"item {n} of {len(items)}"
            raise PlanParseError(f"cannot parse the planner output ({where}): {exc}") from None
    return captions
