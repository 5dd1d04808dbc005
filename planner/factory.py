"""``make_planner``: pick FLAN-T5 when its weights are present, else the grammar planner."""
from __future__ import annotations

import sys
from collections.abc import Callable

from planner.base import Planner, PlannerUnavailable
from planner.grammar import GrammarPlanner

KINDS: tuple[str, ...] = ("auto", "flan-t5", "grammar")
_ANNOUNCED: set[str] = set()


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def make_planner(kind: str = "auto", model: str | None = None,
                 announce: Callable[[str], None] = _stderr) -> Planner:
    """A planner by name.

    ``"flan-t5"`` raises ``PlannerUnavailable`` (with how to provide the weights) when ``model``
    (id or local dir, default ``google/flan-t5-base``) cannot be loaded offline; ``"auto"`` then
    falls back to the grammar planner. ``auto`` says which planner it uses, once per process.
    """
    from planner.flan_t5 import DEFAULT_MODEL, FlanT5Planner

    if kind not in KINDS:
        raise ValueError(f"unknown planner {kind!r}; choose one of {', '.join(KINDS)}")
    if kind == "grammar":
        return GrammarPlanner()
    if kind == "flan-t5":
        return FlanT5Planner.load(model)
    model_id = model or DEFAULT_MODEL
    try:
        planner: Planner = FlanT5Planner.load(model_id)
        message = f"planner: flan-t5 ({model_id})"
    except PlannerUnavailable:
        planner = GrammarPlanner()
        message = f"planner: grammar (no FLAN-T5 weights found offline for {model_id})"
    if message not in _ANNOUNCED:
        _ANNOUNCED.add(message)
        announce(message)
    return planner
