"""The gymnasium contract: check_env on every id, spaces, determinism, several envs at once."""
from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import sim
from sim.expert import expert_action

IDS = list(sim.task_ids())


@pytest.mark.parametrize("render", [True, False], ids=["images", "state-only"])
@pytest.mark.parametrize("env_id", IDS)
def test_check_env_on_every_registered_id(env_id: str, render: bool) -> None:
    kwargs = {"task": "grasp the red object"} if env_id.endswith("Instruction-v0") else {}
    env = gym.make(env_id, config=sim.EnvConfig(render=render), **kwargs)
    check_env(env.unwrapped, skip_render_check=True)
    assert set(env.observation_space.spaces) == ({"state", "rgb"} if render else {"state"})
    env.close()


def test_ids_cover_the_task_families() -> None:
    ids = sim.task_ids()
    assert sum(i.startswith("langstack/Grasp") for i in ids) == 3
    assert sum(i.startswith("langstack/Stack") and "On" in i for i in ids) == 6
    assert "langstack/TripleStack-v0" in ids and "langstack/Instruction-v0" in ids


def test_generic_id_takes_the_task_at_reset() -> None:
    env = gym.make("langstack/Instruction-v0")
    with pytest.raises(ValueError, match="instruction"):
        env.reset(seed=0)
    own = "Stack the blue object on top of the red object."
    _, info = env.reset(seed=0, options={"instruction": own})
    assert info["instruction"] == "stack the blue object on top of the red object"
    with pytest.raises(ValueError, match="reads only its own instructions"):
        env.reset(seed=0, options={"instruction": "put blue on red"})
    goal = {"instruction": "blue on red", "goal": ["on_top(blue,red)"]}
    _, info = env.reset(seed=0, options=goal)
    assert info["instruction"] == "blue on red"
    assert env.unwrapped.task.goals == ("on_top(blue,red)",)
    _, info = env.reset(seed=0, options={"task": sim.grasp_task("green")})
    assert info["instruction"] == "grasp the green object"
    env.close()


def test_generic_id_reads_instructions_with_a_given_parser() -> None:
    def parser(text: str) -> sim.Task:
        return sim.Task.from_goal(text, ["grasping(red)"])

    env = gym.make("langstack/Instruction-v0", task_parser=parser)
    _, info = env.reset(seed=0, options={"instruction": "hold red"})
    assert info["instruction"] == "hold red" and env.unwrapped.task.grasp == "red"
    env.close()


def test_observation_layout(triple_env) -> None:
    obs, info = triple_env.reset(seed=1)
    assert obs["state"].shape == (13,) and obs["state"].dtype == np.float32
    assert obs["rgb"].shape == (2, 128, 128, 3) and obs["rgb"].dtype == np.uint8
    positions = triple_env.scene().positions
    np.testing.assert_allclose(obs["state"][:9], np.concatenate(
        [positions[c] for c in sim.COLORS]), atol=1e-6)
    assert obs["state"][12] == pytest.approx(0.08, abs=0.003)  # gripper open
    assert info["instruction"] == "stack all three objects"
    assert set(info["predicates"]) == {
        "grasping(red)", "grasping(green)", "grasping(blue)", "on_top(red,green)",
        "on_top(red,blue)", "on_top(green,red)", "on_top(green,blue)", "on_top(blue,red)",
        "on_top(blue,green)"}
    assert not any(info["predicates"].values())
    # both cameras see the scene: the images differ and are not blank
    assert obs["rgb"][0].std() > 10 and obs["rgb"][1].std() > 10
    assert np.abs(obs["rgb"][0].astype(int) - obs["rgb"][1]).mean() > 5


def test_reset_scatters_cubes_apart_and_in_reach(triple_env) -> None:
    ws = triple_env.config.workspace
    for seed in range(20):
        triple_env.reset(seed=seed)
        pos = np.array([p for p in triple_env.scene().positions.values()])
        d = np.linalg.norm(pos[:, None, :2] - pos[None, :, :2], axis=-1)
        assert d[np.triu_indices(3, 1)].min() >= ws.min_separation - 1e-3
        assert np.all(pos[:, :2] >= ws.low) and np.all(pos[:, :2] <= ws.high)


def _rollout(env: sim.StackingEnv, seed: int, actions: list[np.ndarray]) -> list[dict]:
    obs, _ = env.reset(seed=seed)
    out = [obs]
    for a in actions:
        out.append(env.step(a)[0])
    return out


def test_same_seed_and_actions_give_identical_observations() -> None:
    actions = [np.array([0.5, 0.0]), np.array([0.45, -0.05]), np.array([0.55, 0.06])]
    a, b = sim.make_env("stack all three objects"), sim.make_env("stack all three objects")
    _rollout(b, 7, [np.array([0.4, 0.1])] * 2)  # b has history: it must not matter
    first, second = _rollout(a, 3, actions), _rollout(b, 3, actions)
    for oa, ob in zip(first, second):
        np.testing.assert_array_equal(oa["state"], ob["state"])
        np.testing.assert_array_equal(oa["rgb"], ob["rgb"])
    a.close()
    b.close()


def test_different_seeds_give_different_scenes(triple_env) -> None:
    s0 = triple_env.reset(seed=0)[0]["state"]
    s1 = triple_env.reset(seed=1)[0]["state"]
    assert np.abs(s0 - s1).max() > 0.01


def test_several_envs_interleaved_in_one_process() -> None:
    """Each env owns its own client: interleaving must not leak state between them."""
    envs = [sim.make_env("stack the red object on top of the blue object",
                         sim.EnvConfig(render=False)) for _ in range(3)]
    for i, e in enumerate(envs):
        e.reset(seed=10 + i)
    for _ in range(2):
        for e in envs:
            e.step(expert_action(e))
    assert all(e.scene().predicates["on_top(red,blue)"] for e in envs)
    alone = sim.make_env("stack the red object on top of the blue object",
                         sim.EnvConfig(render=False))
    alone.reset(seed=11)
    for _ in range(2):
        alone.step(expert_action(alone))
    np.testing.assert_array_equal(alone.world.state_vector(), envs[1].world.state_vector())
    for e in envs + [alone]:
        e.close()


def test_horizon_truncates_and_success_terminates() -> None:
    env = sim.make_env("grasp the red object", sim.EnvConfig(render=False, horizon=2))
    env.reset(seed=0)
    far = np.array(env.action_space.low)  # a corner: nothing to pick there
    _, r, term, trunc, _ = env.step(far)
    assert (r, term, trunc) == (0.0, False, False)
    env.step(far)  # places whatever is held, or picks nothing again
    env.reset(seed=0)
    _, r, term, trunc, info = env.step(expert_action(env))
    assert r == 1.0 and term and info["is_success"] and info["held"] == "red"
    env.close()


def test_mid_primitive_renders_come_with_predicates_and_states() -> None:
    env = sim.make_env("grasp the red object", sim.EnvConfig(motion_frames=6))
    env.reset(seed=3)
    _, _, _, _, info = env.step(expert_action(env))  # a pick of the red cube
    frames, preds, states = (info["motion_frames"], info["motion_predicates"],
                             info["motion_states"])
    assert frames.shape[0] == len(preds) == states.shape[0] >= 2
    assert states.shape[1:] == (13,) and np.isfinite(states).all()
    opening = states[:, 12]
    assert opening[0] > 0.07 and opening[-1] < 0.05  # open on the way down, closed on the cube
    assert not preds[0]["grasping(red)"] and preds[-1]["grasping(red)"]
    env.close()
