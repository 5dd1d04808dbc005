"""Bad actions and instructions give clear errors; clipping is flagged; tasks and goals."""
from __future__ import annotations

import numpy as np
import pytest

import sim
from sim.tasks import Task, canonical_task, canonical_tasks, named_task


@pytest.fixture(scope="module")
def env():
    e = sim.make_env("grasp the red object", sim.EnvConfig(render=False))
    yield e
    e.close()


@pytest.mark.parametrize("bad", [[np.nan, 0.0], [0.5, np.inf], [-np.inf, 0.0]])
def test_non_finite_actions_raise_a_clear_value_error(env, bad) -> None:
    env.reset(seed=0)
    with pytest.raises(ValueError, match="finite"):
        env.step(np.array(bad))


@pytest.mark.parametrize("bad", [[0.5], [0.5, 0.0, 0.1], [[0.5, 0.0], [0.5, 0.0]]])
def test_wrongly_shaped_actions_raise(env, bad) -> None:
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"\(x, y\)"):
        env.step(np.array(bad))


def test_out_of_range_actions_are_clipped_and_flagged(env) -> None:
    env.reset(seed=0)
    *_, info = env.step(np.array([5.0, -5.0]))
    assert info["action_clipped"] is True
    ee = env.world.robot.ee_position()
    assert ee[0] == pytest.approx(env.action_space.high[0], abs=0.01)
    assert ee[1] == pytest.approx(env.action_space.low[1], abs=0.01)
    env.reset(seed=0)
    *_, info = env.step(np.array([0.5, 0.0]))
    assert info["action_clipped"] is False


def test_pick_then_place_alternate_with_the_real_gripper(env) -> None:
    env.reset(seed=4)
    red = env.scene().positions["red"]
    *_, info = env.step(red[:2])
    assert info["primitive"] == "pick" and info["held"] == "red"
    assert env.scene().positions["red"][2] > 0.1  # lifted by the fingers
    *_, info = env.step(np.array([0.5, 0.1]))
    assert info["primitive"] == "place" and info["held"] is None
    assert env.scene().positions["red"][2] == pytest.approx(env.cube_size / 2, abs=0.003)


def test_a_cube_placed_past_the_table_edge_can_be_picked_up_again(env) -> None:
    """The action box reaches past the spawn rectangle, so a cube pushed over its edge is not
    lost to the policy (Triple Stack used to stall on such cubes)."""
    env.reset(seed=4)
    ws = env.config.workspace
    env.step(env.scene().positions["red"][:2])  # pick red
    *_, info = env.step(np.array([ws.x_low - 0.04, 0.0]))  # place it outside the rectangle
    assert info["primitive"] == "place" and info["action_clipped"] is False
    landed = env.scene().positions["red"]
    assert landed[0] < ws.x_low
    *_, info = env.step(landed[:2])
    assert info["primitive"] == "pick" and info["held"] == "red"


@pytest.mark.parametrize("text,goals,triple", [
    ("grasp the red object", ("grasping(red)",), False),
    ("Grasp the BLUE object.", ("grasping(blue)",), False),
    ("stack the red object on top of the blue object", ("on_top(red,blue)",), False),
    ("stack  the green object on top of the red object", ("on_top(green,red)",), False),
    ("stack all three objects", (), True),
])
def test_sim_names_its_own_tasks(text, goals, triple) -> None:
    task = named_task(text)
    assert task.goals == goals and task.triple == triple


def test_own_tasks_are_the_registered_ones() -> None:
    instructions = [t.instruction for t in canonical_tasks()]
    assert sorted(instructions) == sorted(i for i in sim.task_ids().values() if i)
    assert all(canonical_task(i) == t for i, t in zip(instructions, canonical_tasks()))


@pytest.mark.parametrize("text", ["", "   ", "put green on red", "grasp the yellow object",
                                  "stack red on blue and then green on red"])
def test_sim_reads_no_other_text(text) -> None:
    assert canonical_task(text) is None
    with pytest.raises(ValueError, match="reads only its own instructions.*task_parser"):
        named_task(text)


def test_a_goal_makes_a_task() -> None:
    task = Task.from_goal(" red on blue, then hold green ", ["on_top(red,blue)", "grasping(green)"])
    assert task.instruction == "red on blue, then hold green"
    assert task.stacks == (("red", "blue"),) and task.grasp == "green"
    assert task.optimal_steps == 3 and not task.triple
    preds = dict.fromkeys(sim.PREDICATE_KEYS, False)
    assert not task.success(preds)
    preds.update({"on_top(red,blue)": True, "grasping(green)": True})
    assert task.success(preds)


@pytest.mark.parametrize("goal,message", [
    ([], "needs a goal"),
    ("on_top(red,blue)", "list of predicate keys"),
    (["on_top(red,red)"], "unknown predicate"),
    (["grasping(yellow)"], "unknown predicate"),
    (["grasping(red)", "grasping(blue)"], "cannot hold"),
    (["grasping(red)", "on_top(red,blue)"], "cannot hold"),
    (["grasping(blue)", "on_top(red,blue)"], "cannot hold"),
    (["on_top(red,blue)", "on_top(red,green)"], "cannot hold"),
    (["on_top(red,blue)", "on_top(green,blue)"], "cannot hold"),
    (["on_top(red,blue)", "on_top(blue,red)"], "cannot hold"),
    (["on_top(red,blue)", "on_top(blue,green)", "on_top(green,red)"], "cannot hold"),
])
def test_impossible_goals_are_refused(goal, message) -> None:
    with pytest.raises(ValueError, match=message):
        Task.from_goal("x", goal)


def test_env_rejects_bad_config() -> None:
    with pytest.raises(ValueError, match="horizon"):
        sim.make_env("grasp the red object", sim.EnvConfig(horizon=0))
