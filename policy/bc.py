"""Behaviour cloning: maximum likelihood of the demonstrated actions under the policy's
Gaussian-mixture action head.

The loop reads top to bottom: sample a minibatch (seeded generator, with replacement),
weighted mean of ``policy.nll(state, goal, action)``, AdamW step with gradient clipping and
a cosine learning-rate decay. For a fixed seed and initial weights it is deterministic on CPU.
:func:`action_error` measures how far the greedy action lands from the demonstrated one.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from policy.layout import ee_slice, object_slice
from policy.model import TransformerPolicy

STATE_KEY = "state"
GOAL_KEY = "goal_emb"
ACTION_KEY = "action"
WEIGHT_KEY = "weight"


@dataclass
class BCConfig:
    """Behaviour-cloning hyper-parameters."""

    steps: int = 2000
    """Gradient steps."""
    batch_size: int = 256
    """Samples per step (drawn uniformly with replacement)."""
    lr: float = 3e-4
    """Peak AdamW learning rate (cosine-decayed to ``lr * min_lr_ratio``)."""
    weight_decay: float = 0.01
    """AdamW weight decay."""
    seed: int = 0
    """Seed of minibatch sampling and dropout."""
    grad_clip: float = 1.0
    """Max global gradient norm; 0 disables clipping."""
    min_lr_ratio: float = 0.1
    """Final learning rate as a fraction of ``lr``."""
    translate: float = 0.0
    """Translation augmentation (metres): each sample's scene (every object's and the end
    effector's x, y) and its action are shifted together by one offset drawn uniformly from
    ``[-translate, translate]^2``. 0 disables it."""


@dataclass(frozen=True)
class BCStep:
    """One training sample: the state, the goal it is labelled with, the action taken."""

    state: np.ndarray
    goal_emb: np.ndarray
    action: np.ndarray
    weight: float = 1.0


@dataclass
class BCDataset:
    """In-memory BC samples: states (N, S), goal_embs (N, D), actions (N, 2), weights (N,)."""

    states: np.ndarray
    goal_embs: np.ndarray
    actions: np.ndarray
    weights: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.states = np.ascontiguousarray(self.states, dtype=np.float32)
        self.goal_embs = np.ascontiguousarray(self.goal_embs, dtype=np.float32)
        self.actions = np.ascontiguousarray(self.actions, dtype=np.float32)
        n = self.states.shape[0]
        if self.states.ndim != 2 or self.goal_embs.ndim != 2 or self.actions.shape[1:] != (2,):
            raise ValueError(
                "expected states (N, S), goal_embs (N, D), actions (N, 2); got "
                f"{self.states.shape}, {self.goal_embs.shape}, {self.actions.shape}"
            )
        if self.goal_embs.shape[0] != n or self.actions.shape[0] != n:
            raise ValueError("states, goal_embs and actions must have the same length")
        if self.weights is not None:
            self.weights = np.ascontiguousarray(self.weights, dtype=np.float32)
            if self.weights.shape != (n,) or (self.weights < 0).any():
                raise ValueError(f"weights must be (N,) = ({n},) and non-negative")

    def __len__(self) -> int:
        return self.states.shape[0]

    @classmethod
    def from_steps(cls, steps: Iterable[BCStep]) -> BCDataset:
        """Stack a list of :class:`BCStep` (weights kept only if some differ from 1)."""
        steps = list(steps)
        if not steps:
            raise ValueError("cannot build a BCDataset from zero steps")
        weights = np.array([s.weight for s in steps], dtype=np.float32)
        return cls(
            states=np.stack([s.state for s in steps]),
            goal_embs=np.stack([s.goal_emb for s in steps]),
            actions=np.stack([s.action for s in steps]),
            weights=None if (weights == 1.0).all() else weights,
        )

    def tensors(self, device: torch.device | str = "cpu") -> dict[str, Tensor]:
        """All samples as tensors keyed by the batch-key constants."""
        n = len(self)
        weights = self.weights if self.weights is not None else np.ones(n, dtype=np.float32)
        return {
            STATE_KEY: torch.from_numpy(self.states).to(device),
            GOAL_KEY: torch.from_numpy(self.goal_embs).to(device),
            ACTION_KEY: torch.from_numpy(self.actions).to(device),
            WEIGHT_KEY: torch.from_numpy(weights).to(device),
        }


def labelled_steps(
    states: np.ndarray,
    actions: np.ndarray,
    labels: Sequence[tuple[int, str]],
    goal_embeddings: Mapping[str, np.ndarray],
    weight: float = 1.0,
) -> list[BCStep]:
    """BC samples of one episode from relabelled ``(step, caption)`` pairs.

    ``states`` (T+1, S), ``actions`` (T, 2); sample ``(s_t, emb(caption), a_t)`` per label.
    ``goal_embeddings`` maps each caption to its (frozen) text embedding.
    """
    out = []
    for t, caption in labels:
        if not 0 <= t < len(actions):
            raise ValueError(f"label step {t} outside the episode's {len(actions)} actions")
        if caption not in goal_embeddings:
            raise KeyError(f"no goal embedding for caption {caption!r}")
        out.append(BCStep(states[t], np.asarray(goal_embeddings[caption]), actions[t], weight))
    return out


def bc_loss(policy: TransformerPolicy, batch: Mapping[str, Tensor]) -> Tensor:
    """Weighted mean negative log-likelihood of the demonstrated actions (can be negative)."""
    nll = policy.nll(batch[STATE_KEY], batch[GOAL_KEY], batch[ACTION_KEY])  # (B,)
    w = batch[WEIGHT_KEY]
    return (nll * w).sum() / w.sum().clamp_min(1e-8)


def train_bc(
    policy: TransformerPolicy, dataset: BCDataset, cfg: BCConfig, progress: bool = False
) -> list[float]:
    """Train ``policy`` in place on ``dataset``; returns the loss of every step.

    The global torch RNG is forked (dropout is seeded from ``cfg.seed``) and restored after.
    The policy is left in eval mode, ready to act.
    """
    if len(dataset) == 0:
        raise ValueError("empty BC dataset")
    if cfg.steps < 0 or cfg.batch_size < 1:
        raise ValueError("steps must be >= 0 and batch_size >= 1")
    data = dataset.tensors(policy.device)
    n = len(dataset)
    optimiser = torch.optim.AdamW(policy.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sampler = torch.Generator().manual_seed(cfg.seed)
    losses: list[float] = []
    policy.train()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        bar = tqdm(range(cfg.steps), desc="bc", disable=not progress, leave=False)
        for step in bar:
            for group in optimiser.param_groups:
                group["lr"] = _cosine_lr(cfg, step)
            idx = torch.randint(n, (cfg.batch_size,), generator=sampler).to(policy.device)
            batch = {key: value[idx] for key, value in data.items()}
            if cfg.translate > 0:
                batch = translated(batch, cfg.translate, policy.config.n_objects, sampler)
            loss = bc_loss(policy, batch)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(policy.parameters(), cfg.grad_clip)
            optimiser.step()
            losses.append(loss.item())
            if progress and step % 10 == 0:
                bar.set_postfix(loss=f"{losses[-1]:.3f}")
    policy.eval()
    return losses


def translated(batch: Mapping[str, Tensor], extent: float, n_objects: int,
               generator: torch.Generator) -> dict[str, Tensor]:
    """``batch`` with each sample's scene xy and action shifted by one random offset."""
    shift = (torch.rand(batch[ACTION_KEY].shape, generator=generator) * 2 - 1) * extent  # (B, 2)
    shift = shift.to(batch[ACTION_KEY])
    states = batch[STATE_KEY].clone()
    for part in [object_slice(i) for i in range(n_objects)] + [ee_slice(n_objects)]:
        states[:, part.start : part.start + 2] += shift  # x, y of that position
    return {**batch, STATE_KEY: states, ACTION_KEY: batch[ACTION_KEY] + shift}


def _cosine_lr(cfg: BCConfig, step: int) -> float:
    progress = step / max(cfg.steps - 1, 1)
    floor = cfg.lr * cfg.min_lr_ratio
    return floor + (cfg.lr - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def action_error(
    policy: TransformerPolicy, dataset: BCDataset, batch_size: int = 1024
) -> np.ndarray:
    """Per-sample error (N,) in metres of the greedy action: the max over x and y of
    ``|greedy - demonstrated|``, against the action as recorded (a grasp needs < ~15 mm).

    The policy acts in eval mode; its previous mode is restored.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    errors = []
    for start in range(0, len(dataset), batch_size):
        sl = slice(start, start + batch_size)
        greedy = policy.act(dataset.states[sl], dataset.goal_embs[sl], greedy=True)  # (b, 2)
        errors.append(np.abs(greedy - dataset.actions[sl]).max(axis=-1))  # (b, 2) -> (b,)
    return np.concatenate(errors) if errors else np.zeros(0, np.float32)
