"""Intervals for the figures langstack reports (success rates, detection rates).

The implementation lives in :mod:`perception.stats` (the lowest package that reports rates,
in its model cards); experiments import it from here.
"""
from __future__ import annotations

from perception.stats import Z95, wilson

__all__ = ["Z95", "wilson"]
