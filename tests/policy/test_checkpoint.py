"""Checkpoints: safetensors + JSON round trip, strict loading, clear errors."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from policy.checkpoint import CONFIG_FILE, WEIGHTS_FILE, CheckpointError, load_policy, save_policy
from policy.layout import STATE_DIM
from policy.model import PolicyConfig, make_policy


def config(**overrides: object) -> PolicyConfig:
    kwargs: dict = dict(goal_dim=24, action_low=(0.4, -0.1), action_high=(0.6, 0.1), d_model=32,
                        n_layers=2, n_heads=4, n_components=4)
    kwargs.update(overrides)
    return PolicyConfig(**kwargs)


def inputs() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.rand(6, STATE_DIM, generator=g) * 0.2, torch.randn(6, 24, generator=g)


def outputs(policy: torch.nn.Module, state: torch.Tensor, goal: torch.Tensor) -> torch.Tensor:
    """All mixture outputs (logits, means, log-stds) as one (B, K * 5) tensor."""
    return torch.cat([t.flatten(1) for t in policy.mixture(state, goal)], dim=1)


def test_round_trip_gives_identical_mixture_outputs(tmp_path: Path) -> None:
    policy = make_policy(config(), seed=1).eval()
    with torch.no_grad():  # perturb every parameter so that nothing matches a fresh init by luck
        for p in policy.parameters():
            p.add_(0.01 * torch.randn_like(p))
    out = save_policy(policy, tmp_path / "ckpt")
    assert sorted(p.name for p in out.iterdir()) == [CONFIG_FILE, WEIGHTS_FILE]
    loaded = load_policy(out)
    assert loaded.config == policy.config and not loaded.training
    state, goal = inputs()
    assert torch.equal(outputs(loaded, state, goal), outputs(policy, state, goal))
    fresh = make_policy(config(), seed=1).eval()
    assert not torch.equal(outputs(fresh, state, goal), outputs(policy, state, goal))
    gen = [torch.Generator().manual_seed(0) for _ in range(2)]
    sampled = [p.act(state, goal, greedy=False, generator=g) for p, g in zip((loaded, policy), gen)]
    assert (sampled[0] == sampled[1]).all()
    doc = json.loads((out / CONFIG_FILE).read_text())
    assert doc["config"]["action_low"] == [0.4, -0.1] and doc["config"]["goal_dim"] == 24


def test_missing_directory_and_files(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="not found"):
        load_policy(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="no config.json"):
        load_policy(tmp_path / "empty")
    out = save_policy(make_policy(config(), seed=0), tmp_path / "ckpt")
    (out / WEIGHTS_FILE).unlink()
    with pytest.raises(CheckpointError, match="no model.safetensors"):
        load_policy(out)


def test_corrupt_files_give_clear_errors(tmp_path: Path) -> None:
    out = save_policy(make_policy(config(), seed=0), tmp_path / "ckpt")
    weights = (out / WEIGHTS_FILE).read_bytes()
    (out / WEIGHTS_FILE).write_bytes(weights[: len(weights) // 2])
    with pytest.raises(CheckpointError, match="corrupt"):
        load_policy(out)
    (out / CONFIG_FILE).write_text("{not json")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_policy(out)
    (out / CONFIG_FILE).write_text(json.dumps({"format": "something else"}))
    with pytest.raises(CheckpointError, match="not a langstack.policy config"):
        load_policy(out)


def test_loading_is_strict_about_config_weight_mismatch(tmp_path: Path) -> None:
    out = save_policy(make_policy(config(), seed=0), tmp_path / "ckpt")
    doc = json.loads((out / CONFIG_FILE).read_text())
    doc["config"]["n_layers"] = 3  # the weights have 2 layers: missing keys
    (out / CONFIG_FILE).write_text(json.dumps(doc))
    with pytest.raises(CheckpointError, match="does not match"):
        load_policy(out)
    doc["config"]["n_layers"] = 2
    doc["config"]["n_components"] = 8  # head shape mismatch
    (out / CONFIG_FILE).write_text(json.dumps(doc))
    with pytest.raises(CheckpointError, match="does not match"):
        load_policy(out)
    doc["config"]["n_components"] = 4
    doc["config"]["surprise"] = 1
    (out / CONFIG_FILE).write_text(json.dumps(doc))
    with pytest.raises(CheckpointError, match="surprise"):
        load_policy(out)
