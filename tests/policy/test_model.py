"""TransformerPolicy: shapes, the mixture (MDN) head, its likelihood, acting, token sensitivity."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import distributions as D

from policy.layout import STATE_DIM, ee_slice, gripper_index, object_slice
from policy.model import PolicyConfig, TransformerPolicy, make_policy

LOW, HIGH = (0.4, -0.1), (0.6, 0.1)
K = 4


def small_config(**overrides: object) -> PolicyConfig:
    kwargs: dict = dict(goal_dim=16, action_low=LOW, action_high=HIGH, d_model=32, n_layers=1,
                        n_heads=2, dropout=0.0, n_components=K)
    kwargs.update(overrides)
    return PolicyConfig(**kwargs)


def random_inputs(batch: int, goal_dim: int = 16, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    state = torch.rand(batch, STATE_DIM, generator=g) * 0.2 + torch.tensor([0.4, -0.1, 0.0] * 4 + [0.0])
    return state, torch.randn(batch, goal_dim, generator=g)


def flat(outputs: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """All mixture outputs of a batch as one (B, K * 5) tensor."""
    return torch.cat([t.flatten(1) for t in outputs], dim=1)


def test_layout_is_13_with_objects_then_ee_then_gripper() -> None:
    assert STATE_DIM == 13
    assert object_slice(2) == slice(6, 9) and ee_slice() == slice(9, 12) and gripper_index() == 12


def test_mixture_shapes_bounds_and_validation() -> None:
    policy = make_policy(small_config(min_std=0.01, max_std=0.3), seed=0)
    state, goal = random_inputs(5)
    logits, means, log_stds = policy.mixture(state, goal)
    assert logits.shape == (5, K) and means.shape == (5, K, 2) and log_stds.shape == (5, K, 2)
    assert all(torch.equal(a, b) for a, b in zip(policy(state, goal), (logits, means, log_stds)))
    assert (log_stds >= math.log(0.01) - 1e-6).all() and (log_stds <= math.log(0.3) + 1e-6).all()
    # extreme head outputs stay inside [min_std, max_std]
    with torch.no_grad():
        policy.head.bias.fill_(1e4)
    stds = policy.mixture(state, goal)[2].exp()
    assert torch.allclose(stds, torch.full_like(stds, 0.3))
    with torch.no_grad():
        policy.head.bias.fill_(-1e4)
    stds = policy.mixture(state, goal)[2].exp()
    assert torch.allclose(stds, torch.full_like(stds, 0.01))

    with pytest.raises(ValueError, match="expected state"):
        policy.mixture(state[:, :12], goal)
    with pytest.raises(ValueError, match="expected state"):
        policy.mixture(state, goal[:3])
    with pytest.raises(ValueError, match="divisible"):
        small_config(d_model=30, n_heads=4)
    with pytest.raises(ValueError, match="action_low < action_high"):
        small_config(action_low=(0.6, -0.1), action_high=(0.4, 0.1))
    with pytest.raises(ValueError, match="n_components"):
        small_config(n_components=0)
    with pytest.raises(ValueError, match="min_std"):
        small_config(min_std=0.0)
    with pytest.raises(ValueError, match="min_std"):
        small_config(min_std=0.6, max_std=0.5)


def test_components_start_broad() -> None:
    """Initial stds are about max_std / 2 on every component, so no component starts out
    unable to reach (or to be credited with) a far-away demonstration."""
    policy = make_policy(small_config(), seed=0)
    stds = policy.mixture(*random_inputs(64))[2].exp()
    assert 0.2 < stds.median() < 0.3 and stds.min() > 0.05


def test_nll_is_the_mixture_density_of_the_clipped_normalised_action() -> None:
    policy = make_policy(small_config(), seed=0).eval()
    state, goal = random_inputs(6)
    actions = torch.tensor([[0.45, 0.0], [0.5, -0.05], [0.59, 0.09], [0.4, -0.1],
                            [0.3, 0.5], [0.7, -0.3]])  # the last two are outside the workspace
    logits, means, log_stds = policy.mixture(state, goal)
    components = D.Independent(D.Normal(means, log_stds.exp()), 1)
    reference = D.MixtureSameFamily(D.Categorical(logits=logits), components)
    clipped = torch.minimum(torch.maximum(actions, torch.tensor(LOW)), torch.tensor(HIGH))
    normalised = (clipped - torch.tensor([0.5, 0.0])) / 0.1
    nll = policy.nll(state, goal, actions)
    assert nll.shape == (6,)
    assert torch.allclose(nll, -reference.log_prob(normalised), atol=1e-5)
    # an out-of-workspace target counts as its clipped point
    edge = np.array([[0.4, 0.1], [0.6, -0.1]])
    assert torch.allclose(nll[4:], policy.nll(state[4:], goal[4:], edge))


def test_make_policy_seed_is_reproducible_and_leaves_global_rng() -> None:
    torch.manual_seed(123)
    expected = torch.rand(1)
    torch.manual_seed(123)
    a = make_policy(small_config(), seed=7)
    assert torch.equal(torch.rand(1), expected)
    b = make_policy(small_config(), seed=7)
    c = make_policy(small_config(), seed=8)
    state, goal = random_inputs(3)
    assert torch.equal(flat(a.mixture(state, goal)), flat(b.mixture(state, goal)))
    assert not torch.allclose(flat(a.mixture(state, goal)), flat(c.mixture(state, goal)))


def test_every_token_influences_the_output() -> None:
    policy = make_policy(small_config(), seed=0).eval()
    state, goal = random_inputs(1)
    base = flat(policy.mixture(state, goal))
    assert not torch.allclose(flat(policy.mixture(state, goal + 1.0)), base, atol=1e-5)
    # only the goal's direction matters (CLIP embeddings are compared by cosine)
    assert torch.allclose(flat(policy.mixture(state, goal * 3.0)), base, atol=1e-5)
    for idx in (object_slice(0).start, object_slice(2).start + 2, ee_slice().start, gripper_index()):
        moved = state.clone()
        moved[0, idx] += 0.02
        assert not torch.allclose(flat(policy.mixture(moved, goal)), base, atol=1e-5), idx
    # slots carry identity: swapping two objects changes the output
    swapped = state.clone()
    swapped[0, object_slice(0)] = state[0, object_slice(1)]
    swapped[0, object_slice(1)] = state[0, object_slice(0)]
    assert not torch.allclose(flat(policy.mixture(swapped, goal)), base, atol=1e-5)


def test_act_greedy_is_the_most_probable_components_mean() -> None:
    policy = make_policy(small_config(), seed=0)
    policy.train()
    state, goal = random_inputs(4)
    greedy = policy.act(state.numpy(), goal.numpy(), greedy=True)
    assert greedy.shape == (4, 2) and greedy.dtype == np.float32
    assert policy.training  # mode restored
    logits, means, _ = policy.eval().mixture(state, goal)
    best = means[torch.arange(4), logits.argmax(-1)]  # (4, 2), normalised
    mean = (torch.tensor([0.5, 0.0]) + best * 0.1).detach().numpy()
    assert np.allclose(greedy, np.clip(mean, LOW, HIGH), atol=1e-6)  # clipped to the workspace
    inside = np.all(np.abs(mean - [0.5, 0.0]) < 0.1, axis=1)
    assert inside.any() and not inside.all()  # (untrained) both cases occur
    single = policy.act(state[0].numpy(), goal[0].numpy(), greedy=True)
    assert single.shape == (2,) and np.allclose(single, greedy[0])


def test_act_sampling_follows_the_mixture_and_stays_in_the_workspace() -> None:
    policy = make_policy(small_config(), seed=0)
    state, goal = random_inputs(1)
    s, g = state.expand(4000, -1), goal.expand(4000, -1)
    a1 = policy.act(s, g, greedy=False, generator=torch.Generator().manual_seed(3))
    a2 = policy.act(s, g, greedy=False, generator=torch.Generator().manual_seed(3))
    assert a1.shape == (4000, 2) and a1.dtype == np.float32 and np.array_equal(a1, a2)
    assert np.all(a1 >= np.float32(LOW)) and np.all(a1 <= np.float32(HIGH))
    assert np.all(np.std(a1, axis=0) > 0.02)  # untrained: spread over the workspace

    # a known mixture: 25% at A (std 2 mm), 75% at B (std 1 mm, x), C with ~no weight;
    # A's mean is outside the workspace in y, so its samples are clipped onto the edge
    a_norm, b_norm = [-0.5, 1.3], [0.4, -0.2]  # A = (0.45, 0.13) m, B = (0.54, -0.02) m

    def fixed_mixture(st: torch.Tensor, _g: torch.Tensor) -> tuple[torch.Tensor, ...]:
        n = st.shape[0]
        logits = torch.log(torch.tensor([0.25, 0.75, 1e-12, 1e-12])).expand(n, -1)
        means = torch.tensor([a_norm, b_norm, [0.9, 0.9], [0.9, 0.9]]).expand(n, -1, -1)
        stds = torch.tensor([[0.02, 0.02], [0.01, 0.03], [0.01, 0.01], [0.01, 0.01]])
        return logits, means, stds.log().expand(n, -1, -1)

    policy.mixture = fixed_mixture  # type: ignore[method-assign]
    samples = policy.act(s, g, greedy=False, generator=torch.Generator().manual_seed(0))
    near_a = np.abs(samples[:, 0] - 0.45) < 0.01
    near_b = np.linalg.norm(samples - [0.54, -0.02], axis=1) < 0.02
    assert near_a.sum() + near_b.sum() == 4000
    assert 0.22 < near_a.mean() < 0.28
    assert np.all(samples[near_a, 1] == np.float32(0.1))  # clipped onto the workspace edge
    assert np.std(samples[near_a, 0]) == pytest.approx(0.002, rel=0.15)
    assert np.std(samples[near_b], axis=0) == pytest.approx([0.001, 0.003], rel=0.15)
    greedy = policy.act(s[:2], g[:2], greedy=True)
    assert np.allclose(greedy, [[0.54, -0.02]] * 2, atol=1e-6)


def test_default_config_is_an_8_component_mdn_with_3_fourier_bands() -> None:
    cfg = PolicyConfig(goal_dim=512, action_low=LOW, action_high=HIGH)
    assert (cfg.n_components, cfg.fourier_bands, cfg.min_std, cfg.max_std) == (8, 3, 0.005, 0.5)
    policy = TransformerPolicy(cfg)
    state, goal = random_inputs(2, goal_dim=512)
    logits, means, log_stds = policy.mixture(state, goal)
    assert logits.shape == (2, 8) and means.shape == (2, 8, 2) and log_stds.shape == (2, 8, 2)
    assert policy.head.out_features == 8 * 5


def test_the_frame_box_sets_the_scale_and_the_action_box_the_clip(tmp_path) -> None:
    from policy.checkpoint import load_policy, save_policy

    rect, wide = ((0.38, -0.12), (0.62, 0.12)), ((0.32, -0.18), (0.68, 0.18))
    cfg = PolicyConfig(goal_dim=8, action_low=wide[0], action_high=wide[1], frame_low=rect[0],
                       frame_high=rect[1], d_model=16, n_layers=1, n_heads=2)
    policy = make_policy(cfg, seed=0)
    x = policy.normalise_action([[0.62, 0.12], [0.68, -0.18], [0.90, 0.90]])
    # the rectangle's corner is 1; the action box reaches 1.5; further is clipped to it
    assert torch.allclose(x, torch.tensor([[1.0, 1.0], [1.5, -1.5], [1.5, 1.5]]))
    loaded = load_policy(save_policy(policy, tmp_path / "ckpt"))
    assert (loaded.config.frame_low, loaded.config.frame_high) == rect
    assert torch.allclose(loaded.normalise_action([[0.68, 0.18]]), torch.tensor([[1.5, 1.5]]))
    # a config saved before frame_low/high existed keeps the action box as its scale
    old = PolicyConfig(goal_dim=8, action_low=wide[0], action_high=wide[1])
    assert (old.frame_low, old.frame_high) == wide
