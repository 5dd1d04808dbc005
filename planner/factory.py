"""``make_planner``: FLAN-T5 when its weights are here or downloadable, else the grammar planner."""
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

    ``"flan-t5"`` loads ``model`` (id or local dir, default ``google/flan-t5-base``) from a
    directory or the Hugging Face cache, or downloads it into that cache when the hub answers
    and downloads are not off (``HF_HUB_OFFLINE``); it raises ``PlannerUnavailable`` (with how
    to provide the weights) otherwise. ``"auto"`` then falls back to the grammar planner.
    ``auto`` says which planner it uses, once per process; a download is announced first.
    """
    from planner.flan_t5 import DEFAULT_MODEL, FlanT5Planner

    if kind not in KINDS:
        raise ValueError(f"unknown planner {kind!r}; choose one of {', '.join(KINDS)}")
    if kind == "grammar":
        return GrammarPlanner()
    if kind == "flan-t5":
        return FlanT5Planner.load(model, say=announce)
    model_id = model or DEFAULT_MODEL
    try:
        planner: Planner = FlanT5Planner.load(model_id, say=announce)
        message = f"planner: flan-t5 ({model_id})"
    except PlannerUnavailable as exc:
        planner = GrammarPlanner()
        message = fallback_message(model_id, exc)
    if message not in _ANNOUNCED:
        _ANNOUNCED.add(message)
        announce(message)
    return planner


def fallback_message(model_id: str, exc: PlannerUnavailable) -> str:
    """The one line ``auto`` says when it falls back: the planner in use, why, and how to get
    FLAN-T5 (a local directory that is missing needs no download advice)."""
    message = f"planner: grammar (no FLAN-T5 weights found offline for {model_id})"
    why = getattr(exc, "why", None)  # planner.flan_t5.WeightsUnavailable's
    if why:
        message += f"; not downloaded: {why}; to use FLAN-T5, {exc.advice}"  # type: ignore[attr-defined]
    return message
