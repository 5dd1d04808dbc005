"""Intervals for the figures langstack reports (success rates, detection rates).

The one implementation: perception (model cards) and experiments (through
``experiments.collect_infer.stats``) both use it; it imports nothing of langstack.
"""
from __future__ import annotations

import math

Z95 = 1.959963984540054
"""Two-sided 95% normal quantile."""


def wilson(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval (default 95%) of a binomial proportion; (0, 1) for no trials."""
    if trials < 0 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials, got {successes} of {trials}")
    if trials == 0:
        return 0.0, 1.0
    p = successes / trials
    denom = 1.0 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    lo = 0.0 if successes == 0 else max(0.0, centre - half)  # exact at the ends: rounding left
    hi = 1.0 if successes == trials else min(1.0, centre + half)  # 300/300 outside [.., 1 - 2e-16]
    return lo, hi


def format_rate(successes: int, trials: int, digits: int = 3) -> str:
    """``"0.750 (15/20; 95% Wilson [0.531, 0.888])"``: a rate, its counts and its interval
    (``"n/a (0/0)"`` without trials)."""
    lo, hi = wilson(successes, trials)
    if not trials:
        return "n/a (0/0)"
    return (f"{successes / trials:.{digits}f} ({successes}/{trials}; "
            f"95% Wilson [{lo:.{digits}f}, {hi:.{digits}f}])")
