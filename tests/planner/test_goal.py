"""The goal of a plan: the predicates that hold once its sub-goals are reached, in order."""
from __future__ import annotations

import pytest

from perception.captions import grasp_caption as g
from perception.captions import on_top_caption as on
from planner import GrammarPlanner, PlannerError, goal_of_plan


@pytest.mark.parametrize("plan,goal", [
    ([g("red")], ("grasping(red)",)),
    ([g("red"), on("red", "blue")], ("on_top(red,blue)",)),
    ([g("green"), on("green", "blue"), g("red"), on("red", "green")],
     ("on_top(green,blue)", "on_top(red,green)")),
    ([g("red"), on("red", "blue"), g("green")], ("on_top(red,blue)", "grasping(green)")),
    ([g("red"), g("blue")], ("grasping(blue)",)),
    ([g("red"), on("red", "blue"), g("red"), on("red", "green")], ("on_top(red,green)",)),
    ([on("red", "blue")], ("on_top(red,blue)",)),
    ([], ()),
])
def test_the_goal_is_the_end_state(plan, goal) -> None:
    assert goal_of_plan(plan) == goal


@pytest.mark.parametrize("plan", [
    [g("red"), on("red", "blue"), g("blue")],
    [on("red", "blue"), on("green", "blue")],
    [on("red", "blue"), on("blue", "red")],
])
def test_a_plan_no_scene_can_follow_is_refused(plan) -> None:
    with pytest.raises(PlannerError, match="cannot be followed"):
        goal_of_plan(plan)


def test_a_string_outside_the_vocabulary_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown caption"):
        goal_of_plan(["the robot is grasping the yellow object"])


def test_the_grammar_planners_plans_have_goals() -> None:
    planner = GrammarPlanner()
    assert goal_of_plan(planner.plan("stack all three objects")) == (
        "on_top(green,blue)", "on_top(red,green)")
    assert goal_of_plan(planner.plan("1. grasp red 2. put it on blue 3. grasp green")) == (
        "on_top(red,blue)", "grasping(green)")
