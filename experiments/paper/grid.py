"""The evaluation protocol every comparison shares: the env-step points at which every learner
is evaluated (one grid for all, so that steps to X% are read alike), how many fresh scenes per
point, the early stop, and which scripted helpers act during evaluation (none)."""
from __future__ import annotations

import math

MAX_GRID_POINTS = 1_000
"""Most eval points a grid may have."""
GRID_FIRST = 100
"""The default grid's first point after 0 (env steps)."""
GRID_RATIO = 1.1
"""The default grid's points are this factor apart: a crossing at S env steps is read at most
~S/10 late, on the grid (a run evaluates at the first round end at or after a point; its policy
changes only at round ends, so a round finer than the grid is read exactly)."""
EVAL_EPISODES = 50
"""Fresh scenes per eval point, for every agent of a comparison."""
TARGET_SUCCESS = 0.95
"""A run stops early once a grid point reaches this and a confirmation on as many other fresh
scenes agrees (the framework's own early stop, applied to every agent)."""
GREEDY_SET_DOWN = False
"""Whether the framework's scripted set-down of a wrongly held cube acts while it is evaluated
in a comparison: no, since its peers and the env-reward baseline have no such rule; every agent
is evaluated by its learned policy alone (``TrainConfig.set_down_greedy``)."""


def protocol_text() -> str:
    """The protocol in one sentence (for ``--help`` texts and tables)."""
    return (f"every agent is evaluated at 0, {GRID_FIRST} and points {GRID_RATIO - 1:.0%} apart "
            f"up to the budget (at the first round end at or after each), on {EVAL_EPISODES} "
            "fresh scenes per point, by its learned policy alone (no scripted set-down); steps "
            "to 50% is the first point at or above 0.5")


def default_grid(budget: int) -> tuple[int, ...]:
    """0, then :data:`GRID_FIRST` and points :data:`GRID_RATIO` apart (rounded up) below
    ``budget``, and ``budget``: a steps-to-X read off it is at most ~10% above the true crossing
    at every scale."""
    points, k = [0], 0
    while (p := math.ceil(GRID_FIRST * GRID_RATIO ** k - 1e-9)) < budget:
        points.append(p)
        k += 1
    return tuple(sorted(set(points + [budget])))


def parse_grid(spec: str | None, budget: int) -> tuple[int, ...]:
    """The eval grid of a task with ``budget``: :func:`default_grid` (``spec`` None), every
    ``N`` env steps ("N"), or the listed points ("a,b,c"); the budget is always the last
    point. ValueError for anything else."""
    if spec is None:
        return default_grid(budget)
    parts = [p.strip() for p in spec.split(",")]
    try:
        values = [int(p) for p in parts]
    except ValueError:
        raise ValueError(f"--grid: expected a step or comma-separated env steps, got {spec!r}") \
            from None
    if any(v < 0 for v in values) or (len(values) == 1 and values[0] < 1):
        raise ValueError(f"--grid: env steps must be >= 0 (a step >= 1), got {spec!r}")
    if any(v > budget for v in values):
        raise ValueError(f"--grid: {max(values)} is beyond the budget of {budget} env steps")
    if len(values) > MAX_GRID_POINTS:
        raise ValueError(f"--grid: more than {MAX_GRID_POINTS} eval points")
    if len(values) == 1 and budget // values[0] >= MAX_GRID_POINTS:
        raise ValueError(f"--grid: every {values[0]} env steps makes more than "
                         f"{MAX_GRID_POINTS} eval points for a budget of {budget}")
    if len(values) == 1:
        return tuple(sorted(set(range(0, budget, values[0])) | {budget}))
    return tuple(sorted(set(values) | {budget}))
