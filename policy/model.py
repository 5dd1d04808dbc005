"""The language-conditioned transformer policy f(s_t, g) -> distribution over (x, y) actions.

Tokens (one per entity, as in the paper): ``[readout, goal, end effector, object_0 ..
object_{n-1}, gripper]``. Each token gets a learned type embedding (the only positional
information), so object slots are distinguishable while sharing one position encoder.
The readout token is a learned vector *plus the goal token*, so that already in the first
layer its attention query depends on the goal and can pick the object the goal is about
(measured on "goal i -> act at object i's (x, y)", two goals, 300 examples, 600 steps,
4 seeds: with a goal-independent readout the held-out median error was 14-26 mm, the
other object being chosen 15-40% of the time; with the goal added, 1.1-1.6 mm).

The action head is a mixture density network (MDN): the readout token is mapped to
``n_components`` diagonal Gaussians over the normalised (x, y) action, each with a mixture
logit, a mean (2) and a log-std (2, squashed into ``[log min_std, log max_std]`` by a
sigmoid: a hard clamp has zero gradient outside the range, and stds that start above
``max_std`` then never shrink). The mixture
represents several distinct good actions for the same (state, goal) (multimodal: one
component per mode), and sampling it gives exploration: draw a component from the softmax
of the logits, then a point from its Gaussian. Greedy acting takes the mean of the most
probable component. Acted points are clipped to the workspace. Training minimises the
negative log-likelihood of the demonstrated actions (:meth:`nll`).

Why an MDN rather than a categorical grid over (x, y) bins (the previous head): the common
case "act at that object's position" is an identity map from an input coordinate to the
output. A regression-style mean can reproduce it at unseen positions, whereas each grid
cell must be learned as its own class from the examples that fell into it. Measured with
~300 examples of "act at the red cube's (x, y)": a 32x32 grid head had a median error of
26-63 mm on held-out states (a grasp needs < ~15 mm); an MDN head on the same encoder had
1.5 mm median and 100% within 15 mm, with the same samples and 1200 steps.

Each component's mean is a *pointer plus offset*: an attention (softmax, from the readout)
over anchors - every object's (x, y), the end effector's and the workspace centre - plus a
learned offset. Picks and places land on or beside objects, so "which object does this goal
point at" is the part to learn, and it generalises across positions from few examples; the
offset still reaches any point (free-space places). Measured in Collect & Infer on Grasp red
(oracle detector, ~50 labelled grasps per cube after 1.3k env steps): without the pointer the
greedy action missed red by a median 65 mm on fresh scenes.

Normalisation: xy coordinates (positions and actions) are mapped by ``(p - centre) /
half_range`` of the frame box (``frame_low/high``; Collect & Infer uses the spawn rectangle,
which becomes [-1, 1]^2, while the action box reaches 1.5 past it; without a frame box, the
action box). Normalising by the wider action box made every position feature 1.5x coarser in
metres and cost scheduling 0.09 of success (docs/results.md); z and the gripper
opening are divided by the mean xy half range (same metric scale, no extra constant).
Positions are then expanded with a few Fourier bands (default 3: more bands help memorising
the training positions, not generalising to new ones). The goal embedding is L2-normalised
(only its direction matters, as for CLIP similarity).
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

INIT_STD_FRACTION = 0.5
"""Initial component std as a fraction of ``max_std``: broad, so every component starts
with some responsibility for every demonstrated action."""


@dataclass
class PolicyConfig:
    """Architecture and action space of a :class:`TransformerPolicy`."""

    goal_dim: int
    """Dimension of the goal (caption text) embedding, e.g. 512 for CLIP ViT-B/32."""
    action_low: tuple[float, float]
    """Lower (x, y) corner of the action space, metres (the workspace, from the env)."""
    action_high: tuple[float, float]
    """Upper (x, y) corner of the action space, metres."""
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
    n_components: int = 8
    """Gaussian components of the mixture head (upper bound on the modes it can represent)."""
    min_std: float = 0.005
    """Smallest per-axis component std, in normalised workspace units (the workspace is
    [-1, 1]^2): with a half range of 0.12 m, 0.005 is 0.6 mm. Bounds how sharp (and how
    confident in its NLL) the head can get."""
    max_std: float = 0.5
    """Largest per-axis component std, normalised units (0.5 = a quarter of the workspace)."""
    fourier_bands: int = 3
    """Sin/cos bands (frequency pi * 2^k, k < bands) per normalised coordinate; 0 = raw only."""
    frame_low: tuple[float, float] | None = None
    """Lower (x, y) corner of the box mapped to [-1, 1]^2 when normalising positions and
    actions (None: the action box). The spawn rectangle keeps the metric scale of the
    position features when the action box reaches past it."""
    frame_high: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        self.action_low, self.action_high = _xy(self.action_low), _xy(self.action_high)
        self.frame_low = _xy(self.action_low if self.frame_low is None else self.frame_low)
        self.frame_high = _xy(self.action_high if self.frame_high is None else self.frame_high)
        if self.goal_dim < 1 or self.n_objects < 1 or self.n_layers < 1:
            raise ValueError("goal_dim, n_objects and n_layers must be >= 1")
        if self.d_model % self.n_heads != 0:
            raise ValueError(f"d_model={self.d_model} is not divisible by n_heads={self.n_heads}")
        if self.n_components < 1:
            raise ValueError(f"n_components must be >= 1, got {self.n_components}")
        if not 0.0 < self.min_std <= self.max_std:
            raise ValueError(
                f"need 0 < min_std <= max_std, got min_std={self.min_std}, max_std={self.max_std}"
            )
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
    def n_tokens(self) -> int:
        """Sequence length: readout, goal, end effector, objects, gripper."""
        return self.n_objects + 4


def _xy(corner: tuple[float, float]) -> tuple[float, float]:
    """An (x, y) corner as a tuple of Python floats (JSON lists and numpy arrays come in)."""
    return float(corner[0]), float(corner[1])


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
    """Transformer over entity tokens with a Gaussian-mixture (MDN) (x, y) action head.

    Mixture outputs are in normalised workspace units (``(a - centre) / half_range``, the
    workspace is [-1, 1]^2); :meth:`act` returns metres.
    """

    PARAMS_PER_COMPONENT = 1 + 2 * ACTION_DIM
    """Head outputs per component: mixture logit, mean (x, y), log-std (x, y)."""

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
        self.head = nn.Linear(d, config.n_components * self.PARAMS_PER_COMPONENT)
        # Pointer: per component, attention over the anchors (objects, end effector, centre).
        self.pointer = nn.Linear(d, config.n_components * (config.n_objects + 2))
        low = torch.tensor(config.action_low, dtype=torch.float32)
        high = torch.tensor(config.action_high, dtype=torch.float32)
        f_low = torch.tensor(config.frame_low, dtype=torch.float32)
        f_high = torch.tensor(config.frame_high, dtype=torch.float32)
        half = (f_high - f_low) / 2
        # Derived from the config, so not part of the state dict.
        self.register_buffer("low", low, persistent=False)
        self.register_buffer("high", high, persistent=False)
        self.register_buffer("centre", (f_low + f_high) / 2, persistent=False)
        self.register_buffer("half_range", half, persistent=False)
        self.metric_scale = float(half.mean())
        self.log_std_bounds = (math.log(config.min_std), math.log(config.max_std))
        self._init_log_std_bias(INIT_STD_FRACTION * config.max_std)

    @property
    def device(self) -> torch.device:
        """Device of the parameters."""
        return self.head.weight.device

    @torch.no_grad()
    def _init_log_std_bias(self, std: float) -> None:
        """Start every component at about ``std`` (normalised units) on both axes."""
        lo, hi = self.log_std_bounds
        if hi > lo:
            frac = min(max((math.log(std) - lo) / (hi - lo), 1e-3), 1 - 1e-3)
            bias = self.head.bias.view(self.config.n_components, self.PARAMS_PER_COMPONENT)
            bias[:, 1 + ACTION_DIM :] = math.log(frac / (1 - frac))  # inverse sigmoid

    def _normalise_xyz(self, p: Tensor) -> Tensor:
        """(..., 3) metres -> workspace-normalised (..., 3)."""
        xy = (p[..., :2] - self.centre) / self.half_range
        return torch.cat([xy, p[..., 2:] / self.metric_scale], dim=-1)

    def _normalise_goal(self, g: Tensor) -> Tensor:
        """L2-normalise (CLIP compares directions), rescaled so entries are O(1)."""
        return F.normalize(g, dim=-1) * math.sqrt(self.config.goal_dim)

    def normalise_action(self, actions: ArrayLike) -> Tensor:
        """(..., 2) metres -> normalised units, after clipping into the workspace."""
        a = torch.as_tensor(actions, dtype=torch.float32, device=self.low.device)
        a = torch.minimum(torch.maximum(a, self.low), self.high)
        return (a - self.centre) / self.half_range

    def denormalise_action(self, x: Tensor) -> Tensor:
        """(..., 2) normalised units -> metres (not clipped)."""
        return self.centre.to(x) + x * self.half_range.to(x)

    def _readout(self, state: Tensor, goal_emb: Tensor) -> Tensor:
        """Encoder output at the readout token: (B, state_dim), (B, goal_dim) -> (B, d)."""
        cfg = self.config
        ok = state.ndim == 2 and state.shape[-1] == cfg.state_dim
        if not ok or goal_emb.ndim != 2 or goal_emb.shape != (state.shape[0], cfg.goal_dim):
            raise ValueError(
                f"expected state (B, {cfg.state_dim}) and goal (B, {cfg.goal_dim}), "
                f"got {tuple(state.shape)} and {tuple(goal_emb.shape)}"
            )
        b, n = state.shape[0], cfg.n_objects
        objects = state[:, objects_slice(n)].reshape(b, n, POS_DIM)  # (B, 3n) -> (B, n, 3)
        ee = state[:, ee_slice(n)]  # (B, 3)
        gripper = state[:, gripper_index(n), None] / self.metric_scale  # (B,) -> (B, 1)
        goal = self.goal_embed(self._normalise_goal(goal_emb)).unsqueeze(1)  # (B, 1, d)
        tokens = torch.cat(
            [
                self.readout + goal,  # goal-conditioned readout: (1, 1, d) + (B, 1, d)
                goal,  # (B, 1, d)
                self.ee_embed(self._normalise_xyz(ee)).unsqueeze(1),  # (B, 1, d)
                self.object_embed(self._normalise_xyz(objects)),  # (B, n, d)
                self.gripper_embed(gripper).unsqueeze(1),  # (B, 1, d)
            ],
            dim=1,
        )  # (B, n + 4, d)
        out = self.encoder(tokens + self.type_embed)  # (B, n + 4, d)
        return out[:, 0]  # readout token: (B, d)

    def mixture(self, state: Tensor, goal_emb: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """The action distribution for state (B, state_dim) and goal_emb (B, goal_dim).

        Returns ``(logits (B, K), means (B, K, 2), log_stds (B, K, 2))``: unnormalised
        mixture log-weights and per-axis Gaussian parameters in normalised workspace units;
        log-stds lie in ``[log min_std, log max_std]``.
        """
        k, n = self.config.n_components, self.config.n_objects
        readout = self._readout(state, goal_emb)  # (B, d)
        h = self.head(readout).view(-1, k, self.PARAMS_PER_COMPONENT)  # (B, K*5) -> (B, K, 5)
        logits = h[..., 0]  # (B, K)
        attention = self.pointer(readout).view(-1, k, n + 2).softmax(-1)  # (B, K, n + 2)
        anchors = self._anchors(state)  # (B, n + 2, 2)
        means = attention @ anchors + h[..., 1 : 1 + ACTION_DIM]  # (B, K, 2): anchor + offset
        lo, hi = self.log_std_bounds
        log_stds = lo + (hi - lo) * torch.sigmoid(h[..., 1 + ACTION_DIM :])  # (B, K, 2)
        return logits, means, log_stds

    def _anchors(self, state: Tensor) -> Tensor:
        """Normalised (x, y) of each object, the end effector and the workspace centre."""
        b, n = state.shape[0], self.config.n_objects
        objects = state[:, objects_slice(n)].reshape(b, n, POS_DIM)[..., :2]  # (B, 3n) -> (B, n, 2)
        ee = state[:, ee_slice(n)][:, None, :2]  # (B, 1, 2)
        xy = (torch.cat([objects, ee], dim=1) - self.centre) / self.half_range  # (B, n + 1, 2)
        return torch.cat([xy, xy.new_zeros(b, 1, 2)], dim=1)  # (B, n + 2, 2)

    def forward(self, state: Tensor, goal_emb: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Same as :meth:`mixture`."""
        return self.mixture(state, goal_emb)

    def nll(self, state: Tensor, goal_emb: Tensor, actions: ArrayLike) -> Tensor:
        """Negative log-likelihood (B,) of ``actions`` (B, 2) in metres under the mixture.

        Actions are clipped into the workspace before normalising (a clipped action is still
        a valid target). The density is over normalised units, so the value differs from a
        density over metres by the constant ``sum(log half_range)``; it can be negative.
        """
        logits, means, log_stds = self.mixture(state, goal_emb)
        x = self.normalise_action(actions).to(means)  # (B, 2)
        z = (x.unsqueeze(1) - means) / log_stds.exp()  # (B, 1, 2) vs (B, K, 2) -> (B, K, 2)
        log_gauss = (-0.5 * z**2 - log_stds - 0.5 * math.log(2 * math.pi)).sum(-1)  # (B, K)
        return -torch.logsumexp(F.log_softmax(logits, dim=-1) + log_gauss, dim=-1)  # (B,)

    @torch.no_grad()
    def act(
        self,
        state: ArrayLike,
        goal_emb: ArrayLike,
        *,
        greedy: bool,
        generator: torch.Generator | None = None,
    ) -> np.ndarray:
        """Choose actions (float32 metres, shape (B, 2), or (2,) for an unbatched state).

        ``greedy``: the mean of the most probable component. Otherwise sample a component
        from the softmax of the logits, then a point from its Gaussian (both with the CPU
        ``generator`` if given). Either way the action is clipped to the workspace.
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
            logits, means, log_stds = (t.float().cpu() for t in self.mixture(s, g))
        finally:
            self.train(was_training)
        rows = torch.arange(logits.shape[0])
        if greedy:
            x = means[rows, logits.argmax(dim=-1)]  # (B, K, 2) -> (B, 2)
        else:
            probs = logits.softmax(dim=-1)  # (B, K)
            comp = torch.multinomial(probs, 1, generator=generator).squeeze(-1)  # (B, 1) -> (B,)
            mean, std = means[rows, comp], log_stds[rows, comp].exp()  # (B, K, 2) -> (B, 2)
            x = mean + std * torch.randn(mean.shape, generator=generator)  # (B, 2)
        low, high = self.low.cpu(), self.high.cpu()
        a = torch.minimum(torch.maximum(self.denormalise_action(x.to(low)), low), high)
        actions = a.numpy().astype(np.float32)
        return actions[0] if single else actions


def make_policy(config: PolicyConfig, seed: int | None = None) -> TransformerPolicy:
    """A freshly initialised policy; with ``seed``, initialisation is reproducible and the
    global torch RNG is left untouched."""
    if seed is None:
        return TransformerPolicy(config)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return TransformerPolicy(config)
