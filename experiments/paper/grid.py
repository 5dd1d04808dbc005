"""Evaluation grids: the env-step points at which every learner of a comparison is evaluated
(one grid for all, so that steps to X% are read alike)."""
from __future__ import annotations

MAX_GRID_POINTS = 1_000
"""Most eval points a grid may have."""
GRID_MANTISSAS = (1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0)
"""The default grid: 0, then these times 100, 1,000, ... (about 25% apart), then the budget."""


def default_grid(budget: int) -> tuple[int, ...]:
    """0, 100, 125, 150, 200, ... below ``budget``, and ``budget``: a steps-to-X read off it is
    at most ~25% above the true crossing at every scale."""
    points, scale = [0], 100
    while scale < budget:
        points += [int(m * scale) for m in GRID_MANTISSAS if m * scale < budget]
        scale *= 10
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
