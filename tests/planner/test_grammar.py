"""The grammar planner over a broad table of phrasings, and the refusals."""
from __future__ import annotations

import random

import pytest

from perception.captions import CAPTIONS, grasp_caption, on_top_caption
from planner import TOWER_BOTTOM_TO_TOP, GrammarPlanner, InstructionError


def g(x: str) -> str:
    return grasp_caption(x)


def s(x: str, y: str) -> list[str]:
    return [grasp_caption(x), on_top_caption(x, y)]


TOWER = s("green", "blue") + s("red", "green")

VALID: list[tuple[str, list[str]]] = [
    # grasp
    ("grasp the blue object", [g("blue")]),
    ("pick up the red cube", [g("red")]),
    ("Please pick up the green one.", [g("green")]),
    ("grab the red block", [g("red")]),
    ("pick red up", [g("red")]),
    ("robot, grab the green cube", [g("green")]),
    ("Grasp the RED object!", [g("red")]),
    ("lift the blue block", [g("blue")]),
    ("pick up the red block from the table", [g("red")]),
    ("the robot is grasping the red object", [g("red")]),
    # stack
    ("Stack red on blue", s("red", "blue")),
    ("Put the red block onto the blue one.", s("red", "blue")),
    ("place red on top of blue", s("red", "blue")),
    ("set the green cube on the red cube", s("green", "red")),
    ("move the red block to the blue block", s("red", "blue")),
    ("place the red cube over the blue cube", s("red", "blue")),
    ("stack red atop green", s("red", "green")),
    ("put the red block on to the blue block", s("red", "blue")),
    ("Can you please stack the red cube on top of the blue cube?", s("red", "blue")),
    ("I want the red block on the blue block", s("red", "blue")),
    ("make sure that the red block is on the blue block", s("red", "blue")),
    ("the red object is on top of the blue object", s("red", "blue")),
    ("RED ON BLUE!!!", s("red", "blue")),
    ("get the red block onto the green block", s("red", "green")),
    ("put the blue block under the red block", s("red", "blue")),
    # grasp then place collapses
    ("first grab the green block then put it on the red block", s("green", "red")),
    ("pick up the red block and place it on the blue block", s("red", "blue")),
    ("lift the green cube and set it down on the blue cube", s("green", "blue")),
    ("grab red put it on blue", s("red", "blue")),
    ("after grasping red, put it on blue", s("red", "blue")),
    ("once you've grasped red, put it on blue", s("red", "blue")),
    ("pick up the red block and put it down on top of the green block", s("red", "green")),
    ("pick up blue and place on green", s("blue", "green")),
    # sequences
    ("stack the red object on the blue object, then the green one on the red one", s("red", "blue") + s("green", "red")),
    ("put the green cube on the red cube and then the blue cube on the green cube", s("green", "red") + s("blue", "green")),
    ("put the red one on the blue one and the green one on the red one", s("red", "blue") + s("green", "red")),
    ("Stack the blue block onto the red block, and then stack the green block onto the blue block.",
     s("blue", "red") + s("green", "blue")),
    ("put the red cube on the blue cube. then put the green cube on the red cube.", s("red", "blue") + s("green", "red")),
    ("grasp red then stack it on blue then grasp green then stack it on red", s("red", "blue") + s("green", "red")),
    ("pick up the blue block, put it on the green block, then pick up the red block and put it on the blue block",
     s("blue", "green") + s("red", "blue")),
    ("stack the green block on top of the blue block, then stack the red block on top of it", TOWER),
    ("put green on blue, then put red on top", TOWER),
    ("stack green on blue then red", TOWER),
    ("stack red on blue then put the last one on top", s("red", "blue") + s("green", "red")),
    ("stack red on green on blue", TOWER),
    ("1. grasp red 2. put it on blue 3. grasp green", s("red", "blue") + [g("green")]),
    ("stack red on blue. Afterwards stack green on red.", s("red", "blue") + s("green", "red")),
    ("stack red on blue followed by green on red", s("red", "blue") + s("green", "red")),
    ("grab red, then blue", [g("red"), g("blue")]),
    ("First, grasp the green block; second, stack it on the blue block; third, grasp red; fourth, stack it on green",
     TOWER),
    ("Grab green. Place on blue.", s("green", "blue")),
    ("stack green on red then blue on top of that", s("green", "red") + s("blue", "green")),
    ("bring the red block over to the blue block", s("red", "blue")),
    ("move the red block from the table onto the blue block", s("red", "blue")),
    ("could you grab the red block for me?", [g("red")]),
    ("grasp the red cube, and lift it up", [g("red")]),
    ("put red on blue, then put red on green", s("red", "blue") + s("red", "green")),
    # triple stack
    ("stack all three objects", TOWER),
    ("Stack all 3 blocks.", TOWER),
    ("build a tower with all three blocks", TOWER),
    ("stack all the blocks", TOWER),
    ("stack the three cubes", TOWER),
    ("stack them", TOWER),
    ("pile up the cubes", TOWER),
    ("make a tower", TOWER),
    ("stack everything on top of each other", TOWER),
    ("put all three blocks in a single stack", TOWER),
    ("stack the blocks on top of one another", TOWER),
    ("do a triple stack", TOWER),
    ("could you stack the objects into a tower?", TOWER),
    ("build a tower out of the three cubes", TOWER),
    ("stack all three blocks, one on top of the other", TOWER),
    ("arrange the three blocks into a tower", TOWER),
]

INVALID: list[tuple[str, str]] = [
    ("", "empty"),
    ("   ", "empty"),
    ("hello", "nothing the robot can do"),
    ("...", "nothing the robot can do"),
    ("make me a sandwich", "sandwich"),
    ("what is the weather today", "unknown word 'what'"),
    ("grasp the yellow cube", "unknown colour 'yellow'"),
    ("put the purple block on the red block", "unknown colour 'purple'"),
    ("put the sphere on the blue block", "unknown object 'sphere'"),
    ("grasp the gren block", "did you mean 'green'"),
    ("stack the red object on the red object", "on itself"),
    ("pick up red and put it on red", "on itself"),
    ("stack the red block", "does not say where the red object goes"),
    ("stack the red block on", "does not say which object"),
    ("move red off blue", "does not say where the red object goes"),
    ("push the red block", "unknown word 'push'"),
    ("stack all four blocks", "unknown word 'four'"),
    ("put it on blue", "'it' refers to no object"),
    ("red", "does not say what to do with the red object"),
    ("stack", "which object"),
    ("grasp", "which object"),
    ("pick up the block", "which object"),
    ("stack red and blue", "does not say where the red object goes"),
    ("stack red on blue and green", "in the step 'green'"),
    ("put red next to blue", "'next'"),
    ("put the red block to the left of the blue block", "'left'"),
    ("put red on the table", "table"),
    ("don't grasp red", "negation"),
    ("grasp red or blue", "'or'"),
    ("put red on blue after grasping green", "'after'"),
    ("grasp all the blocks", "one object at a time"),
    ("stack two blocks", "'two'"),
    ("stack all three objects with red on top", "blue (bottom), green, red (top)"),
    ("stack red on blue then stack blue on green", "while the red object is on top of it"),
    ("stack red on blue then stack all three", "while the red object is on top of it"),
]


@pytest.mark.parametrize(("instruction", "expected"), VALID)
def test_valid_phrasings_decompose_exactly(instruction: str, expected: list[str]) -> None:
    plan = GrammarPlanner().plan(instruction)
    assert plan == expected
    assert all(c in CAPTIONS for c in plan)


@pytest.mark.parametrize(("instruction", "fragment"), INVALID)
def test_bad_instructions_are_refused_clearly(instruction: str, fragment: str) -> None:
    with pytest.raises(InstructionError) as info:
        GrammarPlanner().plan(instruction)
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message
    assert "understood: colours red, green, blue" in message  # says what is understood


def test_tower_is_the_canonical_triple_stack() -> None:
    assert TOWER_BOTTOM_TO_TOP == ("blue", "green", "red")
    assert TOWER == [
        "the robot is grasping the green object",
        "the green object is on top of the blue object",
        "the robot is grasping the red object",
        "the red object is on top of the green object",
    ]


def test_planner_is_deterministic_and_stateless_between_calls() -> None:
    planner = GrammarPlanner()
    first = planner.plan("pick up the red block and put it on the blue block")
    with pytest.raises(InstructionError):
        planner.plan("put it on green")  # "it" does not leak from the previous instruction
    assert planner.plan("pick up the red block and put it on the blue block") == first
    assert planner.name == "grammar"


def test_random_word_salad_never_crashes() -> None:
    """Any input gives valid captions or an InstructionError -- never another exception."""
    words = ("red green blue yellow the block cube one objects it that other last on onto top of under "
             "from off to table and then , . first after grasp pick up put stack place move build tower "
             "all three 3 each them please is 1. sphere hello not two").split()
    rng = random.Random(0)
    planner = GrammarPlanner()
    for _ in range(3000):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(0, 9)))
        try:
            assert all(c in CAPTIONS for c in planner.plan(text)), text
        except InstructionError as exc:
            assert "\n" not in str(exc)
