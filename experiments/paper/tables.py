"""Table cells of the reproductions: steps to X% per seed, medians with their IQR, pooled
success with its Wilson interval."""
from __future__ import annotations

from typing import Any


def fmt_steps(entry: dict[str, Any]) -> str:
    """Per-seed steps to 50% of a :func:`steps_summary`, "> budget" where not reached."""
    vals = [f"{s}" if s is not None else f"> {entry['budget']}" for s in entry["steps_to_50"]]
    return ", ".join(vals)


def fmt_number(x: float | None) -> str:
    return "unbounded" if x is None else f"{x:.1f}"


def fmt_median(entry: dict[str, Any]) -> str:
    """Median steps to 50% with its interquartile range; "> budget" where not reached."""
    show = lambda v: f"{v:.0f}" if v is not None else f"> {entry['budget']}"  # noqa: E731
    q25, q75 = entry["iqr_steps_to_50"]
    return f"{show(entry['median_steps_to_50'])} [{show(q25)}, {show(q75)}]"


def fmt_pooled(pooled: dict[str, Any]) -> str:
    """k/n success pooled over seeds with its Wilson interval."""
    k, n = pooled["successes"], pooled["episodes"]
    lo, hi = pooled["wilson95"]
    return f"{k / n if n else 0:.2f} [{lo:.2f}, {hi:.2f}] ({k}/{n})"
