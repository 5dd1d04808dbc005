"""Planner: instruction -> sub-goal captions (FLAN-T5 few-shot, or a deterministic grammar).

Light at import time: torch and transformers are imported only when FLAN-T5 is loaded.
"""
from planner.base import (
    UNDERSTOOD,
    InstructionError,
    Planner,
    PlannerError,
    PlannerUnavailable,
    PlanParseError,
)
from planner.factory import KINDS, make_planner
from planner.flan_t5 import DEFAULT_MODEL, FlanT5Planner, load_flan_t5
from planner.goal import goal_of_plan
from planner.grammar import TOWER_BOTTOM_TO_TOP, GrammarPlanner
from planner.parse import canonical_caption, format_plan, parse_plan
from planner.prompt import build_prompt

__all__ = [
    "DEFAULT_MODEL", "KINDS", "TOWER_BOTTOM_TO_TOP", "UNDERSTOOD",
    "FlanT5Planner", "GrammarPlanner", "InstructionError", "PlanParseError", "Planner",
    "PlannerError", "PlannerUnavailable",
    "build_prompt", "canonical_caption", "format_plan", "goal_of_plan", "load_flan_t5",
    "make_planner", "parse_plan",
]
