"""The plan format of the prompt, its parser, and the few-shot prompt itself."""
from __future__ import annotations

import pytest

from perception.captions import CAPTIONS, grasp_caption, on_top_caption
from planner import PlanParseError, build_prompt, canonical_caption, format_plan, parse_plan
from planner.prompt import ENVIRONMENT, EXAMPLES, REQUEST

PLAN = [grasp_caption("red"), on_top_caption("red", "blue")]


def test_format_then_parse_round_trips_every_caption() -> None:
    text = format_plan(CAPTIONS)
    assert text.startswith("1. the robot is grasping the red object; 2. ")
    assert "\n" not in text  # T5's vocabulary has no newline
    assert parse_plan(text) == list(CAPTIONS)


@pytest.mark.parametrize(
    "text",
    [
        "1. the robot is grasping the red object; 2. the red object is on top of the blue object",
        "1 . the robot is grasping the red object ; 2 . the red object is on top of the blue object",
        "1. The Robot is grasping the RED block; 2. the red cube is on top of the blue one.",
        "1. robot is grasping red object 2. red object is on top of blue object",
        "- the robot is grasping a red cube\n- the red block is on top of a blue block",
        "the robot is grasping the red object; the red object is on top of the blue object;",
    ],
)
def test_items_are_canonicalised(text: str) -> None:
    assert parse_plan(text) == PLAN


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "contains no sub-goals"),
        (" ; 1. ;", "contains no sub-goals"),
        ("1. the robot is grasping the red object; 2. the robot is dancing",
         "(item 2 of 2): sub-goal 'the robot is dancing' is not a caption"),
        ("1. the robot is grasping the red object; 2. the red object is on top of",  # cut short
         "(item 2 of 2)"),
        ("the robot is grasping the yellow object", "unknown colour 'yellow'"),
        ("the red object is on top of the red object", "on top of itself"),
        ("grasp the red object", "is not a caption of the form"),
    ],
)
def test_bad_output_is_refused_naming_the_item(text: str, fragment: str) -> None:
    with pytest.raises(PlanParseError) as info:
        parse_plan(text)
    assert fragment in str(info.value)
    assert isinstance(info.value, ValueError)


def test_canonical_caption_accepts_only_the_vocabulary() -> None:
    assert canonical_caption("3. The green cube is on top of the red block.") == on_top_caption("green", "red")
    with pytest.raises(PlanParseError):
        canonical_caption("the green object is under the red object")


def test_prompt_has_environment_request_two_examples_and_the_task() -> None:
    prompt = build_prompt("  put the green block on the red block ")
    assert prompt.startswith(ENVIRONMENT + "\n" + REQUEST)
    assert len(EXAMPLES) == 2
    for task, plan in EXAMPLES:
        assert f"Task: {task}\nSub-goals: {format_plan(plan)}" in prompt
        assert all(c in CAPTIONS for c in plan)
    assert prompt.endswith("Task: put the green block on the red block\nSub-goals:")
