"""One recorded episode: states, actions, what was pursued, rewards and frame embeddings."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Episode:
    """One episode of T steps: states s_0..s_T, actions a_0..a_{T-1} and what was pursued."""

    task: str
    """The instruction of the episode."""
    states: np.ndarray
    """(T+1, S) float32 state vectors."""
    actions: np.ndarray
    """(T, 2) float32 (x, y) actions in metres."""
    pursued: list[str]
    """Length T: the caption pursued at each step, "" if none."""
    env_rewards: np.ndarray
    """(T,) float32 environment reward of each step."""
    frame_embs: np.ndarray | None = None
    """(T+1, n_cams, E) float32 image embeddings of each state's frames, or None."""
    meta: dict[str, Any] = field(default_factory=dict)
    """JSON-serialisable extras (seed, actor id, ...)."""

    def __post_init__(self) -> None:
        self.states = np.ascontiguousarray(self.states, dtype=np.float32)
        self.actions = np.ascontiguousarray(self.actions, dtype=np.float32)
        self.env_rewards = np.ascontiguousarray(self.env_rewards, dtype=np.float32)
        self.pursued = [str(p) for p in self.pursued]
        t = self.actions.shape[0]
        if self.actions.shape != (t, 2) or self.states.ndim != 2 or self.states.shape[0] != t + 1:
            raise ValueError(
                f"expected actions (T, 2) and states (T+1, S); got {self.actions.shape} "
                f"and {self.states.shape}"
            )
        if self.env_rewards.shape != (t,) or len(self.pursued) != t:
            raise ValueError(f"env_rewards and pursued must have length T={t}")
        if self.frame_embs is not None:
            self.frame_embs = np.ascontiguousarray(self.frame_embs, dtype=np.float32)
            if self.frame_embs.ndim != 3 or self.frame_embs.shape[0] != t + 1:
                raise ValueError(
                    f"frame_embs must be (T+1, n_cams, E); got {self.frame_embs.shape}"
                )

    @property
    def T(self) -> int:  # noqa: N802 - the paper's notation
        """Number of steps (actions)."""
        return self.actions.shape[0]
