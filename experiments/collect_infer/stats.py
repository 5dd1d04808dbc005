"""Intervals for the figures langstack reports (success rates, detection rates).

The implementation lives in :mod:`perception.stats` (the lowest package that reports rates,
in its model cards); experiments import it from here.
"""
from __future__ import annotations

import numpy as np

from perception.stats import Z95, wilson

__all__ = ["Z95", "wilson", "censored_quartiles", "ratio_of_medians"]


def censored_quartiles(values: list[float | None]) -> tuple[float, float, float]:
    """(25th percentile, median, 75th percentile) of steps-to-X over seeds, where None (not
    reached within the budget) counts as beyond every reached value: a quartile that falls on
    such a seed is ``inf``. Order statistics (no interpolation, the higher of two middle
    values: never optimistic), so each is a seed's value."""
    if not values:
        raise ValueError("no values")
    data = np.array([np.inf if v is None else float(v) for v in values])
    q = np.percentile(data, [25, 50, 75], method="higher")
    return float(q[0]), float(q[1]), float(q[2])


def ratio_of_medians(top: list[float | None], bottom: list[float | None],
                     resamples: int = 2000, seed: int = 0) -> dict[str, float | None]:
    """median(top) / median(bottom) over seeds with a 95% percentile-bootstrap interval (seeds
    resampled within each list); None where a median is not reached (inf)."""
    def ratio(a: np.ndarray, b: np.ndarray) -> float:
        ma, mb = np.percentile(a, 50, method="higher"), np.percentile(b, 50, method="higher")
        return float(ma / mb) if np.isfinite(ma) and np.isfinite(mb) and mb > 0 else np.inf

    a = np.array([np.inf if v is None else float(v) for v in top])
    b = np.array([np.inf if v is None else float(v) for v in bottom])
    rng = np.random.default_rng(seed)
    boots = np.array([ratio(rng.choice(a, a.size), rng.choice(b, b.size))
                      for _ in range(resamples)])
    point = ratio(a, b)
    lo, hi = np.percentile(boots, [2.5, 97.5], method="higher")
    finite = lambda x: float(x) if np.isfinite(x) else None  # noqa: E731
    return {"ratio": finite(point), "ci95": [finite(lo), finite(hi)]}
