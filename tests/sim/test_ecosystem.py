"""The envs with the ecosystem's learners as they are: state-only mode, SB3's check_env,
gymnasium's vector envs, and the goal-conditioned variant with SB3's SAC + HerReplayBuffer."""
from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env

import sim
from sim.expert import expert_action
from sim.goal_env import GOAL_DIM, goal_vector, predicate_vector

pytest.importorskip("stable_baselines3")
from stable_baselines3.common.env_checker import check_env as sb3_check_env  # noqa: E402

STATE_ONLY = sim.EnvConfig(render=False)


def _task_kwargs(env_id: str) -> dict[str, str]:
    """The generic ids take their task through kwargs."""
    return {"task": "grasp the red object"} if env_id.endswith("Instruction-v0") else {}


@pytest.mark.parametrize("env_id", list(sim.task_ids()))
def test_sb3_check_env_state_only(env_id: str) -> None:
    env = gym.make(env_id, config=STATE_ONLY, **_task_kwargs(env_id))
    sb3_check_env(env, skip_render_check=True)
    env.close()


@pytest.mark.parametrize("env_id", list(sim.goal_task_ids()))
def test_goal_ids_pass_both_checkers(env_id: str) -> None:
    env = gym.make(env_id, **_task_kwargs(env_id))
    sb3_check_env(env.unwrapped, skip_render_check=True)  # gymnasium's wrappers hide compute_*
    gym_check_env(env.unwrapped, skip_render_check=True)
    obs, _ = env.reset(seed=0)
    assert obs["desired_goal"].sum() == len(env.unwrapped.task.goals) >= 1
    env.close()


def test_state_only_observations_match_their_space_exactly() -> None:
    env = gym.make("langstack/GraspRed-v0", config=STATE_ONLY)
    assert list(env.observation_space.spaces) == ["state"]
    obs, _ = env.reset(seed=0)
    for _ in range(3):
        assert obs.keys() == env.observation_space.spaces.keys()
        assert env.observation_space.contains(obs)
        obs = env.step(env.action_space.sample())[0]
    flat = gym.wrappers.FlattenObservation(env)  # what MlpPolicy needs: gymnasium's own wrapper
    flat_obs, _ = flat.reset(seed=0)
    assert flat.observation_space.shape == (sim.STATE_DIM,)
    np.testing.assert_array_equal(flat_obs, env.reset(seed=0)[0]["state"])
    env.close()


def _vector_rollout(mode: str, **vector_kwargs: object) -> list[np.ndarray]:
    envs = gym.make_vec("langstack/StackRedOnBlue-v0", num_envs=2, vectorization_mode=mode,
                        vector_kwargs=vector_kwargs, config=sim.EnvConfig(render=False, horizon=2))
    obs, _ = envs.reset(seed=[5, 6])
    states = [obs["state"]]
    actions = np.array([[0.5, 0.0], [0.45, 0.05]], dtype=np.float32)  # (num_envs, 2)
    for _ in range(3):  # the second step truncates (horizon 2), the third autoresets
        obs, reward, terminated, truncated, _ = envs.step(actions)
        assert envs.observation_space.contains(obs) and reward.shape == (2,)
        states.append(obs["state"])
    envs.close()
    return states


def test_make_vec_sync_and_async_agree() -> None:
    """async in spawned processes: the env and its config are rebuilt there from the spec."""
    sync = _vector_rollout("sync")
    spawned = _vector_rollout("async", context="spawn")
    assert sync[0].shape == (2, sim.STATE_DIM)
    assert np.abs(sync[0][0] - sync[0][1]).max() > 0.01  # two seeds, two scenes
    for a, b in zip(sync, spawned):
        np.testing.assert_array_equal(a, b)


def test_goal_env_make_vec_async() -> None:
    envs = gym.make_vec("langstack/GoalStackRedOnBlue-v0", num_envs=2,
                        vectorization_mode="async", config=sim.EnvConfig(render=False, horizon=2))
    obs, _ = envs.reset(seed=0)
    wanted = np.tile(goal_vector(["on_top(red,blue)"]), (2, 1))  # (num_envs, 9)
    np.testing.assert_array_equal(obs["desired_goal"], wanted)
    envs.close()


def test_goal_env_rewards_are_compute_reward_and_the_task_success() -> None:
    env = gym.make("langstack/GoalStackRedOnBlue-v0")
    achieved, desired, rewards, terminated, predicates = [], [], [], [], []
    for seed in range(3):
        obs, _ = env.reset(seed=seed)
        for step in range(3):  # the expert's two steps solve it; seed 2 also explores
            explore = seed == 2 and step == 0
            action = env.action_space.sample() if explore else expert_action(env.unwrapped)
            obs, r, term, _, info = env.step(action)
            achieved.append(obs["achieved_goal"])
            desired.append(obs["desired_goal"])
            rewards.append(r)
            terminated.append(term)
            predicates.append(info["predicates"])
            achieved_now = predicate_vector(info["predicates"])
            np.testing.assert_array_equal(obs["achieved_goal"], achieved_now)
            if term:
                break
    achieved_b, desired_b = np.stack(achieved), np.stack(desired)  # (steps, 9)
    goal_env = env.unwrapped
    assert achieved_b.shape[1] == GOAL_DIM
    np.testing.assert_array_equal(goal_env.compute_reward(achieved_b, desired_b, {}), rewards)
    terminated_b = goal_env.compute_terminated(achieved_b, desired_b, {})
    np.testing.assert_array_equal(terminated_b, terminated)
    assert not goal_env.compute_truncated(achieved_b, desired_b, {}).any()
    assert 1.0 in rewards and 0.0 in rewards
    for task in sim.canonical_tasks()[:-1]:  # every goal of predicates: reward == task success
        desired_t = np.tile(goal_vector(task.goals), (len(achieved), 1))
        np.testing.assert_array_equal(goal_env.compute_reward(achieved_b, desired_t, {}),
                                      [float(task.success(p)) for p in predicates])
    env.close()


def test_goal_env_refuses_triple_stack_and_takes_a_tower() -> None:
    with pytest.raises(ValueError, match="any tower"):
        sim.GoalStackingEnv("stack all three objects")
    env = gym.make("langstack/GoalInstruction-v0")
    with pytest.raises(ValueError, match="any tower"):
        env.reset(seed=0, options={"task": sim.triple_stack_task()})
    tower = ["on_top(red,green)", "on_top(green,blue)"]
    obs, _ = env.reset(seed=0, options={"instruction": "red on green on blue", "goal": tower})
    np.testing.assert_array_equal(obs["desired_goal"], goal_vector(tower))
    with pytest.raises(ValueError, match="state only"):
        sim.GoalStackingEnv("grasp the red object", sim.EnvConfig(render=True))
    env.close()


def test_sac_with_her_runs_end_to_end_on_the_goal_env() -> None:
    """A compatibility smoke test (not learning): SAC + HerReplayBuffer for 60 steps."""
    import torch
    from stable_baselines3 import SAC, HerReplayBuffer

    torch.set_num_threads(1)
    env = gym.make("langstack/GoalGraspRed-v0", config=sim.EnvConfig(render=False, horizon=3))
    model = SAC("MultiInputPolicy", env, replay_buffer_class=HerReplayBuffer,
                replay_buffer_kwargs={"n_sampled_goal": 4, "goal_selection_strategy": "future"},
                learning_starts=10, batch_size=32, buffer_size=1000,
                policy_kwargs={"net_arch": [32, 32]}, seed=0, device="cpu")
    model.learn(total_timesteps=60)
    buffer = model.replay_buffer
    assert buffer.size() == 60 and (buffer.ep_length[:60] > 0).all()  # whole episodes stored
    batch = buffer.sample(256)
    desired = batch.observations["desired_goal"].numpy()  # (256, 9)
    next_achieved = batch.next_observations["achieved_goal"].numpy()
    rewards = batch.rewards.numpy().ravel()  # (256,)
    task_goal = goal_vector(["grasping(red)"])
    relabelled = ~np.all(desired == task_goal, axis=1)
    assert relabelled.sum() > 100  # 4 of 5 samples carry a goal achieved later in the episode
    np.testing.assert_array_equal(rewards, env.unwrapped.compute_reward(next_achieved, desired, {}))
    assert rewards[relabelled].mean() > rewards[~relabelled].mean()  # hindsight rewards
    obs, _ = env.reset(seed=1)
    action, _ = model.predict(obs, deterministic=True)
    assert env.action_space.contains(action.astype(np.float32))
    env.close()
