"""One grammar: any instruction the planner reads is a sim Task, for every command and the env.

The table's phrasings are read by the grammar planner (as ``langstack plan --planner
grammar`` reads them); each becomes a Task whose success the scripted expert reaches in the
real env, with the ground-truth predicates of the plan's end state holding there.
"""
from __future__ import annotations

import gymnasium as gym
import pytest

import sim
from experiments.collect_infer.tasks import task_for, task_for_instruction, task_parser
from planner import GrammarPlanner, InstructionError, goal_of_plan
from sim.expert import expert_action
from tests.experiments.conftest import assert_clean_usage_error, langstack

TRIPLE = "stack all three objects"
RED_ON_BLUE = "stack the red object on top of the blue object"

PHRASINGS: list[tuple[str, str | None, tuple[str, ...]]] = [
    # instruction, the canonical task it is (None: a task of its own), the goal of its plan
    ("pick up the red block, then put it on the blue one", RED_ON_BLUE, ("on_top(red,blue)",)),
    ("put green on red", "stack the green object on top of the red object", ("on_top(green,red)",)),
    ("Please pick up the green one.", "grasp the green object", ("grasping(green)",)),
    ("build a tower with all three blocks", TRIPLE, ("on_top(green,blue)", "on_top(red,green)")),
    ("Stack all 3 blocks.", TRIPLE, ("on_top(green,blue)", "on_top(red,green)")),
    ("stack red on blue and then green on red", None, ("on_top(red,blue)", "on_top(green,red)")),
    ("put red on blue, then put red on green", "stack the red object on top of the green object",
     ("on_top(red,green)",)),
    ("1. grasp red 2. put it on blue 3. grasp green", None,
     ("on_top(red,blue)", "grasping(green)")),
    (RED_ON_BLUE, RED_ON_BLUE, ("on_top(red,blue)",)),
    (TRIPLE, TRIPLE, ("on_top(green,blue)", "on_top(red,green)")),
]


@pytest.fixture(scope="module")
def env():
    e = gym.make("langstack/Instruction-v0", config=sim.EnvConfig(render=False),
                 task_parser=task_parser("grammar"))
    yield e
    e.close()


@pytest.mark.parametrize("instruction,canonical,goal", PHRASINGS)
def test_a_phrasing_is_the_task_of_its_plans_goal(instruction, canonical, goal) -> None:
    plan = GrammarPlanner().plan(instruction)
    assert goal_of_plan(plan) == goal
    task = task_for_instruction(instruction, GrammarPlanner())
    assert task == task_for(instruction, "grammar")
    if canonical is None:
        assert task == sim.Task.from_goal(instruction, goal)
    else:
        assert task == sim.canonical_task(canonical)


@pytest.mark.parametrize("instruction,canonical,goal", PHRASINGS)
def test_the_env_takes_the_phrasing_and_the_expert_reaches_its_goal(env, instruction, canonical,
                                                                      goal) -> None:
    _, info = env.reset(seed=7, options={"instruction": instruction})
    task = env.unwrapped.task
    assert task == task_for(instruction, "grammar")
    assert info["instruction"] == task.instruction
    assert not info["is_success"]
    for _ in range(task.optimal_steps + 2):
        _, reward, terminated, truncated, info = env.step(expert_action(env))
        if terminated or truncated:
            break
    assert reward == 1.0 and info["is_success"]
    if not task.triple:  # Triple Stack: any tower; the expert may finish another one
        assert all(info["predicates"][k] for k in goal)


@pytest.mark.parametrize("instruction", [
    "", "make me a sandwich", "grasp the yellow cube", "stack red on blue then stack blue on green",
    "put it on blue",
])
def test_a_refused_instruction_is_refused_everywhere_with_the_planners_message(
        env, instruction) -> None:
    with pytest.raises(InstructionError) as planned:
        GrammarPlanner().plan(instruction)
    message = str(planned.value)
    for read in (lambda: task_for(instruction, "grammar"),
                 lambda: env.reset(seed=0, options={"instruction": instruction})):
        with pytest.raises(InstructionError) as refused:
            read()
        assert str(refused.value) == message


def test_langstack_plan_refuses_with_the_same_message() -> None:
    instruction = "put the purple block on the red block"
    with pytest.raises(InstructionError) as planned:
        GrammarPlanner().plan(instruction)
    proc = langstack("plan", "--planner", "grammar", instruction)
    assert_clean_usage_error(proc, str(planned.value))


def test_sims_own_instructions_are_its_tasks_whatever_the_planner() -> None:
    class Odd:  # a planner that reads every instruction as "grasp red"
        name = "odd"

        def plan(self, instruction: str) -> list[str]:
            return ["the robot is grasping the red object"]

    for task in sim.canonical_tasks():
        assert task_for_instruction(task.instruction.upper(), Odd()) == task
    assert task_for_instruction("hold the red block", Odd()) == sim.grasp_task("red")
