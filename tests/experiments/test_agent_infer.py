"""The agent's sub-goal scheduling and Infer's labelling rules, on hand-made episodes."""
from __future__ import annotations

import numpy as np
import pytest

from experiments.collect_infer.agent import SubgoalAgent, free_spot
from experiments.collect_infer.infer import ImitationData, episode_labels
from perception.captions import grasp_caption, on_top_caption
from policy.episode import Episode

G_GREEN, GREEN_ON_BLUE = grasp_caption("green"), on_top_caption("green", "blue")
G_RED, RED_ON_GREEN = grasp_caption("red"), on_top_caption("red", "green")
TOWER = [G_GREEN, GREEN_ON_BLUE, G_RED, RED_ON_GREEN]


def _agent(plan=TOWER, eps=0.0) -> SubgoalAgent:
    goals = {g: np.eye(8, dtype=np.float32)[i] for i, g in enumerate(plan)}
    return SubgoalAgent(plan, goals, policy=None, explore_low=np.zeros(2),
                        explore_high=np.ones(2), explore_eps=eps, rng=np.random.default_rng(0))


def test_agent_moves_on_when_the_current_sub_goal_is_detected() -> None:
    agent = _agent()
    agent.update(set())
    assert agent.current == G_GREEN
    agent.update({G_GREEN})
    assert agent.current == GREEN_ON_BLUE
    agent.update({GREEN_ON_BLUE})  # the place consumed the grasp
    assert agent.current == G_RED
    agent.update({GREEN_ON_BLUE, G_RED})
    assert agent.current == RED_ON_GREEN and not agent.done
    agent.update({GREEN_ON_BLUE, RED_ON_GREEN})
    assert agent.done


def test_agent_falls_back_when_progress_is_undone() -> None:
    agent = _agent()
    agent.update({G_GREEN})
    agent.update(set())  # green was put down beside blue: grasp it again
    assert agent.current == G_GREEN
    agent.update({GREEN_ON_BLUE, G_RED})
    agent.update({G_RED})  # the tower fell while red was carried
    assert agent.current == G_GREEN


def test_agent_sets_the_held_cube_down_before_grasping_another() -> None:
    agent = _agent()  # explores in the unit square
    agent.update({GREEN_ON_BLUE, G_RED})
    assert not agent.must_set_down  # red in hand is what the plan wants next
    agent.update({G_RED})  # green is no longer seen on blue while red is carried
    assert agent.current == G_GREEN and agent.must_set_down
    state = np.zeros(13, np.float32)
    state[0:2], state[3:5], state[6:8] = (0.1, 0.1), (0.2, 0.9), (0.9, 0.2)
    np.testing.assert_allclose(agent.act(state, explore=False), (1.0, 1.0))  # no policy call
    agent.update(set())  # red is down: grasp green again
    assert agent.current == G_GREEN and not agent.must_set_down


def test_exploring_without_set_down_lets_the_policy_act_with_the_wrong_cube() -> None:
    """--explore-held policy: collection keeps what the policy does with a wrong cube in hand
    (data for other sub-goals); greedy acting still sets the cube down."""
    import torch

    from policy.model import PolicyConfig, TransformerPolicy

    torch.manual_seed(0)
    policy = TransformerPolicy(PolicyConfig(goal_dim=8, action_low=(-1.0, -1.0),
                                            action_high=(2.0, 2.0), d_model=16, n_layers=1,
                                            n_heads=2, dropout=0.0)).eval()
    state = np.zeros(13, np.float32)
    state[0:2], state[3:5], state[6:8] = (0.1, 0.1), (0.2, 0.9), (0.9, 0.2)
    spot = free_spot(state, np.zeros(2), np.ones(2))
    acted = {}
    for set_down_exploring in (True, False):
        agent = _agent()
        agent.policy, agent.set_down_exploring = policy, set_down_exploring
        agent.success_counts = {G_GREEN: 10**9}  # a known skill: exploit, no random action
        agent.update({G_RED})  # red in hand while the plan wants green
        assert agent.must_set_down
        np.testing.assert_allclose(agent.act(state, explore=False), spot)
        acted[set_down_exploring] = agent.act(state, explore=True)
    np.testing.assert_allclose(acted[True], spot)
    assert np.abs(acted[False] - spot).max() > 1e-3  # the policy's own (sampled) action
    agent = _agent()  # a comparison's evaluation: the learned policy alone, greedy too
    agent.policy, agent.set_down_greedy = policy, False
    agent.update({G_RED})
    assert agent.must_set_down
    greedy = agent.act(state, explore=False)
    want = policy.act(state[None], agent.goal_embeddings[G_GREEN][None], greedy=True)
    np.testing.assert_allclose(greedy, np.asarray(want).reshape(2))
    assert np.abs(greedy - spot).max() > 1e-3


def test_free_spot_is_the_grid_point_farthest_from_every_cube() -> None:
    state = np.zeros(13, np.float32)
    state[0:2], state[3:5], state[6:8] = (0.0, 0.0), (1.0, 0.0), (0.0, 1.0)
    np.testing.assert_allclose(free_spot(state, np.zeros(2), np.ones(2)), (1.0, 1.0))
    state[6:8] = (1.0, 1.0)
    np.testing.assert_allclose(free_spot(state, np.zeros(2), np.ones(2)), (0.0, 1.0))


def test_exploration_is_uniform_for_unlearned_goals_and_decays_with_successes() -> None:
    agent = _agent(eps=0.05)
    assert agent.exploration(G_GREEN) == 1.0
    agent.success_counts = {G_GREEN: 20, G_RED: 20_000}
    assert agent.exploration(G_GREEN) == pytest.approx(2 ** -0.5)
    assert agent.exploration(G_RED) == 0.05  # the floor
    agent.success_counts = {}  # the current goal (grasp green) never succeeded yet
    actions = [agent.act(np.zeros(13, np.float32), explore=True) for _ in range(50)]
    assert len({tuple(a) for a in actions}) == 50  # uniform random: never calls the policy


def _episode(detected: list[list[str]], pursued: list[str], rewards: list[float]) -> Episode:
    t = len(pursued)
    return Episode(task="stack all three objects",
                   states=np.arange((t + 1) * 13, dtype=np.float32).reshape(t + 1, 13),
                   actions=np.arange(t * 2, dtype=np.float32).reshape(t, 2), pursued=pursued,
                   env_rewards=np.asarray(rewards, np.float32), meta={"detected": detected})


def test_framework_labels_the_step_after_which_each_caption_appeared() -> None:
    # step 0 picks blue (a detour), 1 puts it down, 2 picks green, 3 puts green on red
    ep = _episode([[], [grasp_caption("blue")], [], [G_GREEN], [on_top_caption("green", "red")]],
                  [G_GREEN, G_GREEN, G_GREEN, GREEN_ON_BLUE], [0, 0, 0, 0])
    assert episode_labels(ep, "framework") == [
        (0, grasp_caption("blue")), (2, G_GREEN), (3, on_top_caption("green", "red"))]


def test_captions_already_true_get_no_credit_and_the_rewarded_step_is_kept() -> None:
    ep = _episode([[GREEN_ON_BLUE], [GREEN_ON_BLUE, G_RED], [GREEN_ON_BLUE]],
                  [G_RED, RED_ON_GREEN], [0, 1])  # the detector missed red on green
    assert episode_labels(ep, "framework") == [(0, G_RED), (1, RED_ON_GREEN)]


def test_a_step_that_knocked_a_stack_over_earns_no_credit() -> None:
    # 0 picks red but its fingers knock green off blue; 1 puts red on green; 2 picks red off
    # green again (undoing a stack by picking its top cube is not collateral damage)
    ep = _episode([[GREEN_ON_BLUE], [G_RED], [RED_ON_GREEN], [G_RED]],
                  [G_RED, RED_ON_GREEN, G_GREEN], [0, 0, 0])
    assert episode_labels(ep, "framework") == [(1, RED_ON_GREEN), (2, G_RED)]


def test_baseline_imitates_whole_rewarded_prefixes_only() -> None:
    task = "stack all three objects"
    failed = _episode([[], [G_GREEN], []], [task, task], [0, 0])
    won = _episode([[], [], [], []], [task, task, task], [0, 1, 0])
    assert episode_labels(failed, "baseline") == []
    assert episode_labels(won, "baseline") == [(0, task), (1, task)]


def test_imitation_data_weights_balance_rare_goals() -> None:
    data = ImitationData({G_GREEN: np.ones(4, np.float32), G_RED: np.zeros(4, np.float32)})
    ep = _episode([[]] * 6, [G_GREEN] * 5, [0] * 5)
    data.add(ep, [(0, G_GREEN), (1, G_GREEN), (2, G_GREEN), (3, G_GREEN), (4, G_RED),
                  (4, "a caption this task does not use")])
    ds = data.dataset()
    assert len(ds) == 5 and data.counts() == {G_GREEN: 4, G_RED: 1}
    w = ds.weights
    assert w[4] == pytest.approx(2 * w[0])  # 1/sqrt(1) vs 1/sqrt(4)
    np.testing.assert_array_equal(ds.actions[4], ep.actions[4])
