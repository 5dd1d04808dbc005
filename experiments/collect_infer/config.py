"""``TrainConfig``: every setting of a Collect & Infer run (stored in its config.json)."""
from __future__ import annotations

import math
import types
import typing
from dataclasses import MISSING, dataclass, fields
from typing import Any

AGENTS = ("framework", "baseline")
DETECTORS = ("clip", "oracle")
EVAL_RANGES = ("curve", "peers")
"""Seed ranges a learning curve may be evaluated on (``sim.seeds.CURVE`` / ``PEERS``)."""


@dataclass
class TrainConfig:
    """Collect & Infer settings (the CLI exposes the common ones)."""

    task: str
    """The instruction, e.g. "stack all three objects"."""
    agent: str = "framework"
    """"framework" (sub-goals + detector + hindsight) or "baseline" (env reward only)."""
    detector: str = "clip"
    """"clip" (the CLIP detector) or "oracle" (ground-truth predicates, to price its errors)."""
    planner: str = "auto"
    actors: int = 1
    overlap: bool = True
    """With N > 1 actors, they collect the next round while the learner trains (their weights
    are then one round old); one in-process actor always alternates."""
    max_env_steps: int = 50_000
    seed: int = 0
    horizon: int = 10
    episodes_per_round: int = 16
    """N: episodes collected between behaviour-cloning rounds."""
    bc_steps_per_round: int = 100
    bc_translate: float = 0.08
    """BC translation augmentation (metres, see ``BCConfig.translate``). The demonstrations
    are the sampled actions that happened to succeed (grasps scatter ~12 mm around the cube);
    without it the policy learned that scatter: in Triple Stack 40-50% of its greedy grasps
    and places on held-out states were > 12 mm off the target cube, and a grasp that far off
    can tilt the cube in the hand so that the next place topples (docs/results.md)."""
    batch_size: int = 128
    lr: float = 1e-3
    explore_eps: float = 0.1
    """Floor of the per-goal, count-based probability of a uniform random action."""
    set_down_exploring: bool = True
    """While exploring, set a cube held against the plan down on a free spot (False: the
    policy acts with it in hand, as the paper's agent; greedy acting: ``set_down_greedy``).
    ``langstack reproduce reuse`` collects with False: see ``experiments.collect_infer.agent``."""
    set_down_greedy: bool = True
    """While acting greedily (the curve, confirmation and final evals, the video), set a cube
    held against the plan down on a free spot. The reproductions that compare agents turn it off
    (``experiments.paper.grid.GREEDY_SET_DOWN``): their other agents have no such rule."""
    eval_every: int = 2_000
    """Env steps between curve evaluations."""
    eval_at: tuple[int, ...] = ()
    """Env-step points of the curve in place of every ``eval_every`` (a grid shared with other
    learners): each is evaluated at the first round end at or after it, the last one due also
    once the budget is spent."""
    eval_range: str = "curve"
    """The curve's scenes: "curve" (``sim.seeds.CURVE``, the run's own) or "peers"
    (``sim.seeds.PEERS``, those of every learner in ``langstack reproduce peers``)."""
    eval_episodes: int = 20
    final_eval_episodes: int = 100
    target_success: float | None = 0.95
    """Stop early once a curve evaluation reaches this success rate and a confirmation on
    ``confirm_episodes`` other fresh seeds agrees (None: always spend the budget)."""
    min_env_steps: int = 0
    """No early stop before this many env steps: the run keeps collecting after it reached
    ``target_success`` (an earlier task of ``langstack reproduce reuse`` whose episodes a later
    task imports; the learning curve and its steps to 50% are unchanged)."""
    confirm_episodes: int = 50
    """A 20-episode curve point is noisy (0.95 there was 0.73 on 100 episodes): before an
    early stop, the same weights are evaluated on this many other fresh seeds."""
    d_model: int = 96
    n_layers: int = 2
    detector_path: str | None = None
    video: bool = True
    reuse_from: tuple[str, ...] = ()
    """Run or episode-store dirs of earlier tasks whose episodes are re-scored against this
    task's sub-goals and imported (the paper's lifelong data reuse, Sec. 5.2)."""

    also: tuple[str, ...] = ()
    """Further instructions learned in the same run (one multi-skill policy): episodes and
    eval seeds rotate over ``task`` and these; the success rate is over all of them."""

    def __post_init__(self) -> None:
        self.reuse_from = tuple(self.reuse_from)  # a list when read back from config.json
        self.also = tuple(self.also)
        self.eval_at = tuple(self.eval_at)
        if self.also and self.agent == "baseline":
            raise ValueError("--also (several instructions) needs --agent framework: the "
                             "baseline learns one task from its env reward")
        if self.reuse_from and self.agent == "baseline":
            raise ValueError("--reuse-from needs --agent framework: the baseline has no "
                             "sub-goals to re-score against")
        check_settings(self)


class ConfigError(ValueError):
    """A stored run config that this version cannot use (unknown, missing or mistyped fields)."""


def check_settings(cfg: TrainConfig) -> None:
    """ValueError naming the first setting out of range (choices, counts, rates)."""
    from planner.factory import KINDS

    choices = {"agent": AGENTS, "detector": DETECTORS, "planner": KINDS,
               "eval_range": EVAL_RANGES}
    for name, allowed in choices.items():
        if getattr(cfg, name) not in allowed:
            raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {getattr(cfg, name)!r}")
    positive = ("actors", "max_env_steps", "horizon", "episodes_per_round", "bc_steps_per_round",
                "batch_size", "eval_every", "eval_episodes", "final_eval_episodes",
                "confirm_episodes", "d_model", "n_layers")
    for name in positive:
        if isinstance(getattr(cfg, name), int) and getattr(cfg, name) < 1:
            raise ValueError(f"{name} must be >= 1, got {getattr(cfg, name)}")
    for name in ("seed", "min_env_steps"):
        if isinstance(getattr(cfg, name), int) and getattr(cfg, name) < 0:
            raise ValueError(f"{name} must be >= 0, got {getattr(cfg, name)}")
    points = list(cfg.eval_at)
    if any(not isinstance(p, int) or p < 0 for p in points) or points != sorted(set(points)):
        raise ValueError(f"eval_at must be increasing env steps >= 0, got {points[:8]}")
    rate = cfg.target_success
    if isinstance(rate, (int, float)) and not (0 <= rate <= 1):
        raise ValueError(f"target_success must be in [0, 1] or None, got {rate}")
    for name in ("lr", "bc_translate", "explore_eps"):
        value = getattr(cfg, name)
        if isinstance(value, (int, float)) and not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be a finite number >= 0, got {value}")


def config_from_dict(data: Any, source: str) -> TrainConfig:
    """The :class:`TrainConfig` stored as ``data`` (the "train" object of a run's config.json).

    Settings a newer version added take their defaults (an older run behaved that way);
    unknown settings, a missing task or a value of the wrong type are a :class:`ConfigError`
    naming ``source``, never a KeyError or TypeError later.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the run settings must be a JSON object, got "
                          f"{type(data).__name__}")
    known = {f.name: f for f in fields(TrainConfig)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(f"{source}: unknown settings {', '.join(map(repr, unknown))} (written "
                          "by another version of langstack?)")
    missing = [n for n, f in known.items() if f.default is MISSING
               and f.default_factory is MISSING and n not in data]
    if missing:
        raise ConfigError(f"{source}: missing settings {', '.join(missing)}")
    hints = typing.get_type_hints(TrainConfig)
    for name, value in data.items():
        if not _fits(value, hints[name]):
            raise ConfigError(f"{source}: setting {name!r} has the wrong type "
                              f"({type(value).__name__}: {value!r:.60})")
    try:
        return TrainConfig(**data)
    except ValueError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def _fits(value: Any, hint: Any) -> bool:
    """Whether a JSON value fits a TrainConfig annotation (a tuple is stored as a list)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, arg) for arg in typing.get_args(hint))
    if origin is tuple:
        item = typing.get_args(hint)[0]
        return isinstance(value, (list, tuple)) and all(_fits(v, item) for v in value)
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)
