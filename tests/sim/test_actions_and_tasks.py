"""Bad actions and instructions give clear errors; clipping is flagged; tasks parse."""
from __future__ import annotations

import numpy as np
import pytest

import sim
from sim.tasks import task_from_instruction


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
    ("Pick up the BLUE cube.", ("grasping(blue)",), False),
    ("stack the red object on top of the blue object", ("on_top(red,blue)",), False),
    ("put green on red", ("on_top(green,red)",), False),
    ("stack all three objects", (), True),
    ("stack red on blue and then green on red", ("on_top(red,blue)", "on_top(green,red)"), False),
])
def test_instructions_name_tasks(text, goals, triple) -> None:
    task = task_from_instruction(text)
    assert task.goals == goals and task.triple == triple


@pytest.mark.parametrize("text,message", [
    ("", "empty instruction"),
    ("   ", "empty instruction"),
    ("grasp the yellow object", "cannot read"),
    ("stack the red object on top of the red object", "on itself"),
    ("make me a sandwich", "understood"),
])
def test_bad_instructions_are_refused_clearly(text, message) -> None:
    with pytest.raises(ValueError, match=message):
        task_from_instruction(text)


def test_env_rejects_bad_config() -> None:
    with pytest.raises(ValueError, match="horizon"):
        sim.make_env("grasp the red object", sim.EnvConfig(horizon=0))
