"""TransformerPolicy: shapes, bin encoding/decoding, acting, token sensitivity."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from policy.layout import STATE_DIM, ee_slice, gripper_index, object_slice
from policy.model import PolicyConfig, TransformerPolicy, make_policy

LOW, HIGH = (0.4, -0.1), (0.6, 0.1)


def small_config(**overrides: object) -> PolicyConfig:
    kwargs: dict = dict(goal_dim=16, action_low=LOW, action_high=HIGH, d_model=32, n_layers=1,
                        n_heads=2, dropout=0.0, bins_per_axis=8)
    kwargs.update(overrides)
    return PolicyConfig(**kwargs)


def random_inputs(batch: int, goal_dim: int = 16, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    state = torch.rand(batch, STATE_DIM, generator=g) * 0.2 + torch.tensor([0.4, -0.1, 0.0] * 4 + [0.0])
    return state, torch.randn(batch, goal_dim, generator=g)


def test_layout_is_13_with_objects_then_ee_then_gripper() -> None:
    assert STATE_DIM == 13
    assert object_slice(2) == slice(6, 9) and ee_slice() == slice(9, 12) and gripper_index() == 12


def test_logits_shape_and_validation() -> None:
    policy = make_policy(small_config(), seed=0)
    state, goal = random_inputs(5)
    assert policy.logits(state, goal).shape == (5, 64)
    with pytest.raises(ValueError, match="expected state"):
        policy.logits(state[:, :12], goal)
    with pytest.raises(ValueError):
        small_config(d_model=30, n_heads=4)
    with pytest.raises(ValueError):
        small_config(action_low=(0.6, -0.1), action_high=(0.4, 0.1))


def test_action_to_bin_and_back_roundtrip_and_clipping() -> None:
    policy = make_policy(small_config(), seed=0)
    bins = torch.arange(64)
    centres = policy.bin_to_action(bins)
    assert torch.equal(policy.action_to_bin(centres), bins)
    # cell (0, 0) is the low corner; x-major ordering k = ix * n + iy
    assert np.allclose(centres[0].numpy(), [0.4 + 0.0125, -0.1 + 0.0125])
    assert np.allclose(centres[1].numpy(), [0.4 + 0.0125, -0.1 + 0.0375])
    outside = np.array([[0.0, -5.0], [9.0, 9.0], [0.6, 0.1]], dtype=np.float32)
    assert policy.action_to_bin(outside).tolist() == [0, 63, 63]


def test_make_policy_seed_is_reproducible_and_leaves_global_rng() -> None:
    torch.manual_seed(123)
    expected = torch.rand(1)
    torch.manual_seed(123)
    a = make_policy(small_config(), seed=7)
    assert torch.equal(torch.rand(1), expected)
    b = make_policy(small_config(), seed=7)
    c = make_policy(small_config(), seed=8)
    state, goal = random_inputs(3)
    assert torch.equal(a.logits(state, goal), b.logits(state, goal))
    assert not torch.allclose(a.logits(state, goal), c.logits(state, goal))


def test_every_token_influences_the_output() -> None:
    policy = make_policy(small_config(), seed=0).eval()
    state, goal = random_inputs(1)
    base = policy.logits(state, goal)
    assert not torch.allclose(policy.logits(state, goal + 1.0), base, atol=1e-5)
    # only the goal's direction matters (CLIP embeddings are compared by cosine)
    assert torch.allclose(policy.logits(state, goal * 3.0), base, atol=1e-5)
    for idx in (object_slice(0).start, object_slice(2).start + 2, ee_slice().start, gripper_index()):
        moved = state.clone()
        moved[0, idx] += 0.02
        assert not torch.allclose(policy.logits(moved, goal), base, atol=1e-5), idx
    # slots carry identity: swapping two objects changes the output
    swapped = state.clone()
    swapped[0, object_slice(0)] = state[0, object_slice(1)]
    swapped[0, object_slice(1)] = state[0, object_slice(0)]
    assert not torch.allclose(policy.logits(swapped, goal), base, atol=1e-5)


def test_act_greedy_sampling_and_jitter() -> None:
    policy = make_policy(small_config(), seed=0)
    policy.train()
    state, goal = random_inputs(4)
    greedy = policy.act(state.numpy(), goal.numpy(), greedy=True)
    assert greedy.shape == (4, 2) and greedy.dtype == np.float32
    assert policy.training  # mode restored
    expected = policy.bin_to_action(policy.eval().logits(state, goal).argmax(-1)).numpy()
    assert np.allclose(greedy, expected)
    single = policy.act(state[0].numpy(), goal[0].numpy(), greedy=True)
    assert single.shape == (2,) and np.allclose(single, greedy[0])

    s = state[:1].expand(500, -1)
    g = goal[:1].expand(500, -1)
    a1 = policy.act(s, g, greedy=False, generator=torch.Generator().manual_seed(3))
    a2 = policy.act(s, g, greedy=False, generator=torch.Generator().manual_seed(3))
    assert np.array_equal(a1, a2)
    assert len(np.unique(policy.action_to_bin(a1).numpy())) > 5  # untrained: spread out
    # jitter: inside the sampled cell, not at its centre, and inside the workspace
    centres = policy.bin_to_action(policy.action_to_bin(a1)).numpy()
    assert np.all(np.abs(a1 - centres) <= 0.0125 + 1e-6)
    assert not np.allclose(a1, centres)
    assert np.all(a1 >= np.array(LOW) - 1e-6) and np.all(a1 <= np.array(HIGH) + 1e-6)
    no_jitter = policy.act(s, g, greedy=False, generator=torch.Generator().manual_seed(3), jitter=False)
    assert np.allclose(no_jitter, centres, atol=1e-6)


def test_default_config_builds_1024_bins() -> None:
    cfg = PolicyConfig(goal_dim=512, action_low=LOW, action_high=HIGH)
    policy = TransformerPolicy(cfg)
    state, goal = random_inputs(2, goal_dim=512)
    assert cfg.n_bins == 1024 and policy.logits(state, goal).shape == (2, 1024)
