"""Behaviour cloning fits goal-conditioned and multimodal data, deterministically."""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch

from policy.bc import (
    ACTION_KEY, GOAL_KEY, STATE_KEY, WEIGHT_KEY, BCConfig, BCDataset, BCStep, bc_loss,
    bin_accuracy, labelled_steps, train_bc,
)
from policy.layout import STATE_DIM, ee_slice, gripper_index, object_slice
from policy.model import PolicyConfig, make_policy

GOAL_DIM = 32
LOW, HIGH = (0.4, -0.1), (0.6, 0.1)
MODE_A, MODE_B = (0.42, -0.08), (0.58, 0.08)


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """Tiny models train faster on one thread (and the CI box has two cores)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny_config() -> PolicyConfig:
    return PolicyConfig(goal_dim=GOAL_DIM, action_low=LOW, action_high=HIGH, d_model=32,
                        n_layers=1, n_heads=2, dropout=0.0, bins_per_axis=32, fourier_bands=4)


def goal_conditioned_data(n: int = 96) -> tuple[BCDataset, np.ndarray]:
    """Goal i means "act at object i's (x, y)": the policy must read the goal and attend to
    the right object token. Returns the dataset and the 3 goal embeddings."""
    rng = np.random.default_rng(0)
    goals = rng.normal(size=(3, GOAL_DIM)).astype(np.float32)
    states = np.zeros((n, STATE_DIM), np.float32)
    for i in range(3):
        states[:, object_slice(i)] = np.column_stack(
            [rng.uniform(0.4, 0.6, n), rng.uniform(-0.1, 0.1, n), np.full(n, 0.02)]
        )
    states[:, ee_slice()] = (0.5, 0.0, 0.3)
    states[:, gripper_index()] = 0.08
    which = rng.integers(0, 3, n)
    actions = np.stack([states[np.arange(n), 3 * which], states[np.arange(n), 3 * which + 1]], 1)
    return BCDataset(states, goals[which], actions), goals


def multimodal_data(goal: np.ndarray, n: int = 64) -> BCDataset:
    """One (state, goal) demonstrated half the time with MODE_A and half with MODE_B."""
    state = np.array([0.45, -0.05, 0.02, 0.55, 0.05, 0.02, 0.5, 0.0, 0.02, 0.5, 0.0, 0.3, 0.08],
                     np.float32)
    actions = np.array([MODE_A] * (n // 2) + [MODE_B] * (n // 2), np.float32)
    return BCDataset(np.tile(state, (n, 1)), np.tile(goal, (n, 1)), actions)


def concat(a: BCDataset, b: BCDataset) -> BCDataset:
    return BCDataset(np.concatenate([a.states, b.states]), np.concatenate([a.goal_embs, b.goal_embs]),
                     np.concatenate([a.actions, b.actions]))


def test_bc_fits_goal_conditioned_and_multimodal_data() -> None:
    unimodal, goals = goal_conditioned_data()
    bimodal = multimodal_data(goals[0])
    policy = make_policy(tiny_config(), seed=0)
    assert bin_accuracy(policy, unimodal) < 0.1  # untrained: the test can fail
    losses = train_bc(policy, concat(unimodal, bimodal),
                      BCConfig(steps=300, batch_size=64, lr=3e-3, seed=0))
    assert len(losses) == 300 and np.mean(losses[-20:]) < 0.5 * np.mean(losses[:20])
    assert bin_accuracy(policy, unimodal) > 0.95

    # multimodal: about half the probability mass on each demonstrated cell
    state, goal = torch.from_numpy(bimodal.states[:1]), torch.from_numpy(bimodal.goal_embs[:1])
    probs = policy.logits(state, goal).softmax(-1)[0]
    bin_a, bin_b = policy.action_to_bin(np.array([MODE_A, MODE_B], np.float32)).tolist()
    assert 0.3 < probs[bin_a] < 0.7 and 0.3 < probs[bin_b] < 0.7
    assert probs[bin_a] + probs[bin_b] > 0.9
    # sampling produces both modes, greedy produces one of them
    samples = policy.act(np.tile(bimodal.states[:1], (200, 1)), np.tile(bimodal.goal_embs[:1], (200, 1)),
                         greedy=False, generator=torch.Generator().manual_seed(0))
    sampled_bins = policy.action_to_bin(samples)
    n_a, n_b = int((sampled_bins == bin_a).sum()), int((sampled_bins == bin_b).sum())
    assert n_a > 50 and n_b > 50 and n_a + n_b > 180
    greedy = policy.act(bimodal.states[0], bimodal.goal_embs[0], greedy=True)
    assert policy.action_to_bin(greedy[None]).item() in (bin_a, bin_b)


def test_bc_is_deterministic_for_a_seed_and_leaves_global_rng() -> None:
    data, _ = goal_conditioned_data(32)
    cfg = PolicyConfig(**{**tiny_config().__dict__, "dropout": 0.2})  # dropout must be seeded too
    runs = []
    for i, seed in enumerate((0, 0, 1)):
        torch.manual_seed(100 + i)  # a different global RNG state each run: must not matter
        policy = make_policy(cfg, seed=5)
        losses = train_bc(policy, data, BCConfig(steps=15, batch_size=16, lr=1e-3, seed=seed))
        first_draw = torch.rand(1, generator=torch.Generator().manual_seed(100 + i))
        assert torch.equal(torch.rand(1), first_draw)  # global RNG untouched
        logits = policy.logits(torch.from_numpy(data.states[:4]), torch.from_numpy(data.goal_embs[:4]))
        runs.append((losses, logits))
    assert runs[0][0] == runs[1][0] and torch.equal(runs[0][1], runs[1][1])
    assert runs[0][0] != runs[2][0]


def test_bc_loss_weights_exclude_zero_weight_samples() -> None:
    policy = make_policy(tiny_config(), seed=0).eval()
    data, _ = goal_conditioned_data(4)
    batch = data.tensors()
    only_first = {k: v[:1] for k, v in batch.items()}
    batch[WEIGHT_KEY] = torch.tensor([2.0, 0.0, 0.0, 0.0])
    assert torch.allclose(bc_loss(policy, batch), bc_loss(policy, only_first))
    assert set(batch) == {STATE_KEY, GOAL_KEY, ACTION_KEY, WEIGHT_KEY}


def test_dataset_validation_and_from_steps() -> None:
    s, g, a = np.zeros(STATE_DIM), np.ones(GOAL_DIM), np.array([0.5, 0.0])
    ds = BCDataset.from_steps([BCStep(s, g, a), BCStep(s + 1, g, a)])
    assert len(ds) == 2 and ds.weights is None and ds.states.dtype == np.float32
    weighted = BCDataset.from_steps([BCStep(s, g, a, 0.5), BCStep(s, g, a)])
    assert weighted.weights is not None and weighted.weights.tolist() == [0.5, 1.0]
    with pytest.raises(ValueError):
        BCDataset.from_steps([])
    with pytest.raises(ValueError):
        BCDataset(np.zeros((3, STATE_DIM)), np.zeros((2, GOAL_DIM)), np.zeros((3, 2)))
    with pytest.raises(ValueError):
        BCDataset(np.zeros((3, STATE_DIM)), np.zeros((3, GOAL_DIM)), np.zeros((3, 3)))
    with pytest.raises(ValueError):
        BCDataset(np.zeros((1, STATE_DIM)), np.zeros((1, GOAL_DIM)), np.zeros((1, 2)), np.array([-1.0]))


def test_labelled_steps_pairs_state_goal_and_action_of_the_step() -> None:
    states = np.arange(4 * STATE_DIM, dtype=np.float32).reshape(4, STATE_DIM)
    actions = np.array([[0.41, 0.0], [0.42, 0.0], [0.43, 0.0]], np.float32)
    embs = {"grasp red": np.full(GOAL_DIM, 1.0), "red on blue": np.full(GOAL_DIM, 2.0)}
    steps = labelled_steps(states, actions, [(0, "grasp red"), (2, "red on blue")], embs)
    assert [s.state[0] for s in steps] == [0.0, 2.0 * STATE_DIM]
    assert [s.action[0] for s in steps] == pytest.approx([0.41, 0.43])
    assert [s.goal_emb[0] for s in steps] == [1.0, 2.0]
    with pytest.raises(ValueError):
        labelled_steps(states, actions, [(3, "grasp red")], embs)
    with pytest.raises(KeyError):
        labelled_steps(states, actions, [(0, "unknown")], embs)
