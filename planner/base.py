"""The planner interface and its errors: instruction in, sub-goal captions out."""
from __future__ import annotations

from typing import Protocol, runtime_checkable

from perception.captions import COLORS

TOWER_BOTTOM_TO_TOP: tuple[str, ...] = ("blue", "green", "red")
"""The grammar planner's Triple Stack: green on blue, then red on green."""
_BOTTOM, _MIDDLE, _TOP = TOWER_BOTTOM_TO_TOP

UNDERSTOOD = (
    f"understood: colours {', '.join(COLORS)}; objects named 'object', 'block', 'cube' or 'one' "
    "(e.g. 'the red block', 'the blue one', 'it'); 'grasp / pick up / grab X'; "
    "'stack / put / place / set / move X on (top of) / onto Y'; "
    f"'stack all three objects' (a tower: {_BOTTOM} at the bottom, then {_MIDDLE}, then {_TOP}); "
    "steps joined by 'then', 'and then', commas or 'first ... then ...' "
    "(e.g. 'pick up the red cube, then put it on the blue cube')"
)
"""What the grammar planner understands; appended to every refusal."""


class PlannerError(ValueError):
    """Base class of the planner's errors about an instruction or a model output."""


class InstructionError(PlannerError):
    """The instruction cannot be turned into sub-goals (unknown words, missing parts...)."""


class PlanParseError(PlannerError):
    """A model output that does not parse into captions of the vocabulary."""


class PlannerUnavailable(RuntimeError):
    """The requested planner cannot be built here (e.g. FLAN-T5 weights are not available)."""


@runtime_checkable
class Planner(Protocol):
    """Turns an instruction into the sub-goal captions of ``perception.captions``."""

    name: str
    """``"flan-t5"`` or ``"grammar"``."""

    def plan(self, instruction: str) -> list[str]:
        """Sub-goal captions, in order; raises a ``PlannerError`` if impossible."""
        ...
