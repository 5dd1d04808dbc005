"""The language-conditioned transformer policy f(s_t, g) -> distribution over (x, y) actions.

Tokens (one per entity, as in the paper): ``[readout, goal, end effector, object_0 ..
object_{n-1}, gripper]``. Each token gets a learned type embedding (the only positional
information), so object slots are distinguishable while sharing one position encoder.

The action head is a categorical over a joint grid of ``bins_per_axis x bins_per_axis``
(x, y) cells spanning ``[action_low, action_high]``: it represents several distinct good
actions for the same (state, goal) (multimodal), and sampling it gives exploration.
Class ``k = ix * bins_per_axis + iy``; a class decodes to its cell centre (greedy) or to a
uniform point inside the cell (sampling with jitter).

Normalisation: xy coordinates are mapped by ``(p - centre) / half_range`` of the action
bounds (the workspace becomes [-1, 1]^2); z and the gripper opening are divided by the mean
xy half range (same metric scale, no extra constant). Positions are then expanded with
Fourier features so that sharp spatial outputs (put the block *exactly there*) are easy to fit.
The goal embedding is L2-normalised (only its direction matters, as for CLIP similarity).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from policy.layout import (
    ACTION_DIM, GRIPPER_DIM, OBJECT_SLOTS, POS_DIM, ee_slice, gripper_index, objects_slice,
    state_dim,
)

ArrayLike = np.ndarray | Tensor


@dataclass
class PolicyConfig:
    """Architecture and action space of a :class:`TransformerPolicy`."""

    goal_dim: int
    """Dimension of the goal (caption text) embedding, e.g. 512 for CLIP ViT-B/32."""
    action_low: tuple[float, float]
    """Lower (x, y) corner of the action grid, metres (the workspace, from the env)."""
    action_high: tuple[float, float]
    """Upper (x, y) corner of the action grid, metres."""
    n_objects: int = OBJECT_SLOTS
    """Objects in the state vector (state layout: objects xyz, end-effector xyz, gripper)."""
    d_model: int = 128
    """Token width."""
    n_layers: int = 3
    """Transformer encoder layers."""
    n_heads: int = 4
    """Attention heads per layer."""
    dropout: float = 0.1
    """Dropout inside the encoder layers (training only)."""
    bins_per_axis: int = 32
    """Grid cells per axis; the head has ``bins_per_axis ** 2`` classes."""
    fourier_bands: int = 6
    """Sin/cos bands (frequency pi * 2^k, k < bands) per normalised coordinate; 0 = raw only."""

    def __post_init__(self) -> None:
        self.action_low = (float(self.action_low[0]), float(self.action_low[1]))
        self.action_high = (float(self.action_high[0]), float(self.action_high[1]))
        if self.goal_dim < 1 or self.n_objects < 1 or self.n_layers < 1:
            raise ValueError("goal_dim, n_objects and n_layers must be >= 1")
        if self.d_model % self.n_heads != 0:
            raise ValueError(f"d_model={self.d_model} is not divisible by n_heads={self.n_heads}")
        if self.bins_per_axis < 2:
            raise ValueError(f"bins_per_axis must be >= 2, got {self.bins_per_axis}")
        if not all(lo < hi for lo, hi in zip(self.action_low, self.action_high)):
            raise ValueError(
                f"need action_low < action_high, got {self.action_low} / {self.action_high}"
            )
        if not 0.0 <= self.dropout < 1.0 or self.fourier_bands < 0:
            raise ValueError("dropout must be in [0, 1) and fourier_bands >= 0")

    @property
    def state_dim(self) -> int:
        """Length of the state vector."""
        return state_dim(self.n_objects)

    @property
    def n_bins(self) -> int:
        """Number of action classes."""
        return self.bins_per_axis**2

    @property
    def n_tokens(self) -> int:
        """Sequence length: readout, goal, end effector, objects, gripper."""
        return self.n_objects + 4


class _PointEmbed(nn.Module):
    """Normalised coordinates -> Fourier features -> 2-layer MLP -> token."""

    def __init__(self, in_dim: int, d_model: int, bands: int) -> None:
        super().__init__()
        self.register_buffer("freqs", math.pi * 2.0 ** torch.arange(bands), persistent=False)
        self.mlp = nn.Sequential(
            nn.Linear(in_dim * (1 + 2 * bands), d_model), nn.GELU(), nn.Linear(d_model, d_model)
        )

    def forward(self, x: Tensor) -> Tensor:
        """``x`` (..., in_dim) -> (..., d_model)."""
        angles = x.unsqueeze(-1) * self.freqs  # (..., in_dim, bands)
        feats = torch.cat([x.unsqueeze(-1), angles.sin(), angles.cos()], dim=-1)
        return self.mlp(feats.flatten(-2))  # (..., in_dim * (1 + 2 * bands)) -> (..., d)


class TransformerPolicy(nn.Module):
    """Transformer over entity tokens with a categorical (x, y)-grid action head."""

    def __init__(self, config: PolicyConfig) -> None:
        super().__init__()
        self.config = config
        d = config.d_model
        self.goal_embed = nn.Linear(config.goal_dim, d)
        self.ee_embed = _PointEmbed(POS_DIM, d, config.fourier_bands)
        self.object_embed = _PointEmbed(POS_DIM, d, config.fourier_bands)  # shared by all slots
        self.gripper_embed = _PointEmbed(GRIPPER_DIM, d, config.fourier_bands)
        self.readout = nn.Parameter(torch.randn(1, 1, d) * 0.02)
        self.type_embed = nn.Parameter(torch.randn(config.n_tokens, d) * 0.02)
        layer = nn.TransformerEncoderLayer(
            d, config.n_heads, dim_feedforward=4 * d, dropout=config.dropout,
            activation="gelu", batch_first=True, norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(
            layer, config.n_layers, norm=nn.LayerNorm(d), enable_nested_tensor=False
        )
        self.head = nn.Linear(d, config.n_bins)
        low = torch.tensor(config.action_low, dtype=torch.float32)
        high = torch.tensor(config.action_high, dtype=torch.float32)
        half = (high - low) / 2
        # Derived from the config, so not part of the state dict.
        self.register_buffer("low", low, persistent=False)
        self.register_buffer("centre", (low + high) / 2, persistent=False)
        self.register_buffer("half_range", half, persistent=False)
        self.register_buffer("bin_width", (high - low) / config.bins_per_axis, persistent=False)
        self.metric_scale = float(half.mean())

    @property
    def device(self) -> torch.device:
        """Device of the parameters."""
        return self.head.weight.device

    def _normalise_xyz(self, p: Tensor) -> Tensor:
        """(..., 3) metres -> workspace-normalised (..., 3)."""
        xy = (p[..., :2] - self.centre) / self.half_range
        return torch.cat([xy, p[..., 2:] / self.metric_scale], dim=-1)

    def _normalise_goal(self, g: Tensor) -> Tensor:
        """L2-normalise (CLIP compares directions), rescaled so entries are O(1)."""
        return F.normalize(g, dim=-1) * math.sqrt(self.config.goal_dim)

    def logits(self, state: Tensor, goal_emb: Tensor) -> Tensor:
        """Action-class logits: state (B, state_dim), goal_emb (B, goal_dim) -> (B, n_bins)."""
        cfg = self.config
        ok = state.ndim == 2 and state.shape[-1] == cfg.state_dim
        if not ok or goal_emb.shape[-1] != cfg.goal_dim:
            raise ValueError(
                f"expected state (B, {cfg.state_dim}) and goal (B, {cfg.goal_dim}), "
                f"got {tuple(state.shape)} and {tuple(goal_emb.shape)}"
            )
        b, n = state.shape[0], cfg.n_objects
        objects = state[:, objects_slice(n)].reshape(b, n, POS_DIM)  # (B, 3n) -> (B, n, 3)
        ee = state[:, ee_slice(n)]  # (B, 3)
        gripper = state[:, gripper_index(n), None] / self.metric_scale  # (B,) -> (B, 1)
        tokens = torch.cat(
            [
                self.readout.expand(b, -1, -1),  # (B, 1, d)
                self.goal_embed(self._normalise_goal(goal_emb)).unsqueeze(1),  # (B, 1, d)
                self.ee_embed(self._normalise_xyz(ee)).unsqueeze(1),  # (B, 1, d)
                self.object_embed(self._normalise_xyz(objects)),  # (B, n, d)
                self.gripper_embed(gripper).unsqueeze(1),  # (B, 1, d)
            ],
            dim=1,
        )  # (B, n + 4, d)
        out = self.encoder(tokens + self.type_embed)  # (B, n + 4, d)
        return self.head(out[:, 0])  # readout token -> (B, n_bins)

    def forward(self, state: Tensor, goal_emb: Tensor) -> Tensor:
        """Same as :meth:`logits`."""
        return self.logits(state, goal_emb)

    def action_to_bin(self, actions: ArrayLike) -> Tensor:
        """(B, 2) actions in metres -> (B,) class indices; out-of-range actions are clipped."""
        a = torch.as_tensor(actions, dtype=torch.float32, device=self.low.device)
        n = self.config.bins_per_axis
        cell = torch.floor((a - self.low) / self.bin_width).long().clamp(0, n - 1)  # (B, 2)
        return cell[..., 0] * n + cell[..., 1]

    def bin_to_action(self, bins: Tensor, offset: Tensor | None = None) -> Tensor:
        """(B,) class indices -> (B, 2) metres at ``offset`` (B, 2) in [0, 1) within each cell
        (default 0.5: the cell centre)."""
        n = self.config.bins_per_axis
        bins = torch.as_tensor(bins, device=self.low.device)
        cell = torch.stack([bins // n, bins % n], dim=-1).to(self.low)  # (B,) -> (B, 2)
        offset = torch.full_like(cell, 0.5) if offset is None else offset.to(cell)
        return self.low + (cell + offset) * self.bin_width

    @torch.no_grad()
    def act(
        self,
        state: ArrayLike,
        goal_emb: ArrayLike,
        *,
        greedy: bool,
        generator: torch.Generator | None = None,
        jitter: bool = True,
    ) -> np.ndarray:
        """Choose actions (float32 metres, shape (B, 2), or (2,) for an unbatched state).

        ``greedy``: the most likely cell's centre. Otherwise sample a cell (with the CPU
        ``generator`` if given) and, with ``jitter``, a uniform point inside it.
        Runs in eval mode (no dropout) and restores the previous mode.
        """
        s = torch.as_tensor(state, dtype=torch.float32, device=self.device)
        g = torch.as_tensor(goal_emb, dtype=torch.float32, device=self.device)
        single = s.ndim == 1
        if single:
            s, g = s.unsqueeze(0), g.unsqueeze(0)  # (D,) -> (1, D)
        was_training = self.training
        self.eval()
        try:
            logits = self.logits(s, g).float().cpu()  # (B, n_bins)
        finally:
            self.train(was_training)
        if greedy:
            bins, offset = logits.argmax(dim=-1), None
        else:
            bins = torch.multinomial(logits.softmax(dim=-1), 1, generator=generator).squeeze(-1)
            offset = torch.rand(bins.shape[0], ACTION_DIM, generator=generator) if jitter else None
        actions = self.bin_to_action(bins, offset).cpu().numpy().astype(np.float32)
        return actions[0] if single else actions


def make_policy(config: PolicyConfig, seed: int | None = None) -> TransformerPolicy:
    """A freshly initialised policy; with ``seed``, initialisation is reproducible and the
    global torch RNG is left untouched."""
    if seed is None:
        return TransformerPolicy(config)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return TransformerPolicy(config)
