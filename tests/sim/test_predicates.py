"""Ground-truth predicates against hand-built scenes."""
from __future__ import annotations

import numpy as np
import pytest

import sim
from sim.expert import expert_action


@pytest.fixture(scope="module")
def env():
    e = sim.make_env("stack all three objects", sim.EnvConfig(render=False))
    yield e
    e.close()


def _build(env, positions: dict[str, tuple[float, float, float]], settle: int = 60) -> dict:
    env.reset(seed=0)
    for c, p in positions.items():
        env.world.bullet.set_pose(c, p)
    env.world.bullet.step(settle)
    return env.scene().predicates


def test_scattered_cubes_satisfy_nothing(env) -> None:
    s = env.cube_size / 2
    preds = _build(env, {"red": (0.45, -0.08, s), "green": (0.5, 0.0, s), "blue": (0.56, 0.08, s)})
    assert not any(preds.values())


def test_two_cube_stack(env) -> None:
    s = env.cube_size / 2
    preds = _build(env, {"red": (0.5, 0.0, 3 * s + 0.001), "blue": (0.5, 0.0, s),
                         "green": (0.42, 0.09, s)})
    assert [k for k, v in preds.items() if v] == ["on_top(red,blue)"]


def test_tower_of_three(env) -> None:
    s = env.cube_size / 2
    preds = _build(env, {"blue": (0.5, 0.0, s), "green": (0.5, 0.0, 3 * s + 0.001),
                         "red": (0.5, 0.0, 5 * s + 0.002)})
    assert {k for k, v in preds.items() if v} == {"on_top(green,blue)", "on_top(red,green)"}
    assert env.task.success(preds)


def test_adjacent_cubes_are_not_on_top(env) -> None:
    s = env.cube_size / 2
    preds = _build(env, {"red": (0.5, 0.0, s), "blue": (0.5 + 2 * s + 0.001, 0.0, s),
                         "green": (0.42, 0.09, s)})
    assert not any(preds.values())


def test_a_cube_hovering_above_another_is_not_on_it(env) -> None:
    s = env.cube_size / 2
    env.reset(seed=0)
    env.world.bullet.set_pose("blue", (0.5, 0.0, s))
    env.world.bullet.set_pose("red", (0.5, 0.0, 3 * s + 0.02))  # 2 cm gap, no settling
    assert not env.scene().predicates["on_top(red,blue)"]


def test_grasping_only_while_the_cube_hangs_in_the_fingers(env) -> None:
    env.reset(seed=2)
    env.step(expert_action(env))  # expert picks green for the tower
    preds = env.scene().predicates
    assert [k for k, v in preds.items() if v] == ["grasping(green)"]
    env.step(np.array([0.45, 0.1]))  # put it down on the table
    assert not any(env.scene().predicates.values())
