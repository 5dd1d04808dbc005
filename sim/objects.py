"""The three cubes and the table region they live on."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

COLORS: tuple[str, ...] = ("red", "green", "blue")
RGBA: dict[str, tuple[float, float, float, float]] = {
    "red": (0.85, 0.12, 0.10, 1.0),
    "green": (0.10, 0.65, 0.15, 1.0),
    "blue": (0.10, 0.25, 0.85, 1.0),
}
CUBE_SIZE = 0.04
"""Edge length of a cube in metres (the Panda's fingers open to 0.08)."""
CUBE_MASS = 0.08


@dataclass(frozen=True)
class Workspace:
    """The table rectangle (metres, world frame) where cubes spawn; table top at z = 0."""

    x_low: float = 0.38
    x_high: float = 0.62
    y_low: float = -0.12
    y_high: float = 0.12
    spawn_margin: float = 0.03
    """Cubes spawn at least this far inside the rectangle."""
    min_separation: float = 0.08
    """Minimum distance between spawned cube centres (room for the open fingers)."""
    reach_margin: float = 0.06
    """Actions may land this far outside the rectangle, so a cube pushed past its edge can
    still be picked up (exploration stays uniform over the rectangle itself)."""

    @property
    def low(self) -> np.ndarray:
        """Lower (x, y) corner."""
        return np.array([self.x_low, self.y_low], dtype=np.float32)

    @property
    def high(self) -> np.ndarray:
        """Upper (x, y) corner."""
        return np.array([self.x_high, self.y_high], dtype=np.float32)

    @property
    def action_low(self) -> np.ndarray:
        """Lower (x, y) corner of the action box (the rectangle plus ``reach_margin``)."""
        return self.low - np.float32(self.reach_margin)

    @property
    def action_high(self) -> np.ndarray:
        """Upper (x, y) corner of the action box."""
        return self.high + np.float32(self.reach_margin)

    @property
    def center(self) -> np.ndarray:
        """Centre (x, y)."""
        return (self.low + self.high) / 2


def sample_positions(rng: np.random.Generator, workspace: Workspace, n: int = 3,
                     cube_size: float = CUBE_SIZE) -> np.ndarray:
    """``n`` non-overlapping cube centres (n, 3) resting on the table, drawn uniformly."""
    lo = workspace.low + workspace.spawn_margin
    hi = workspace.high - workspace.spawn_margin
    for _ in range(10_000):
        xy = rng.uniform(lo, hi, size=(n, 2))
        d = np.linalg.norm(xy[:, None, :] - xy[None, :, :], axis=-1)  # (n, n) pairwise
        if np.all(d[np.triu_indices(n, 1)] >= workspace.min_separation):
            z = np.full((n, 1), cube_size / 2)
            return np.concatenate([xy, z], axis=1)
    raise RuntimeError("could not place the cubes without overlap; enlarge the workspace")
