"""The seed registry: every purpose's seeds are disjoint from every other purpose's."""
from __future__ import annotations

import itertools

import pytest

from sim import seeds
from sim.seeds import SeedRange

RUN_SEEDS = 1000
"""Run seeds (and --seed values) the proof covers: 0..999."""


def _spans(r: SeedRange) -> list[tuple[int, int]]:
    """[lo, hi) of every block of ``r`` for keys 0..min(keys, RUN_SEEDS) - 1, at full size."""
    return [(r.seed(k, 0), r.seed(k, r.block - 1) + 1) for k in range(min(r.keys, RUN_SEEDS))]


def test_every_range_is_disjoint_from_every_other() -> None:
    for a, b in itertools.combinations(seeds.ALL, 2):
        assert a.stop <= b.start or b.stop <= a.start, f"{a.name} overlaps {b.name}"


def test_blocks_of_run_seeds_0_to_999_are_disjoint_at_every_default_count() -> None:
    """Every block of every range, for keys 0..999, at its full size (>= any default count):
    pairwise disjoint, within a range and across ranges."""
    spans = sorted((lo, hi, r.name) for r in seeds.ALL for lo, hi in _spans(r))
    for (lo1, hi1, n1), (lo2, hi2, n2) in zip(spans, spans[1:]):
        assert hi1 <= lo2, f"{n1} [{lo1}, {hi1}) overlaps {n2} [{lo2}, {hi2})"


def test_default_counts_fit_in_a_block() -> None:
    from experiments.collect_infer.config import TrainConfig

    cfg = TrainConfig(task="stack all three objects")
    assert cfg.max_env_steps <= seeds.TRAIN.block  # >= 1 env step per episode
    for r, n in ((seeds.CURVE, cfg.eval_episodes), (seeds.CONFIRM, cfg.confirm_episodes),
                 (seeds.FINAL, cfg.final_eval_episodes)):
        assert len(r.seeds(RUN_SEEDS - 1, n)) == n


def test_out_of_range_requests_are_refused() -> None:
    with pytest.raises(ValueError, match="key must be"):
        seeds.EVAL.seed(seeds.EVAL.keys, 0)
    with pytest.raises(ValueError, match="at most"):
        seeds.CURVE.seeds(0, seeds.CURVE.block + 1)
    with pytest.raises(ValueError, match="key must be"):
        seeds.TRAIN.seed(-1, 0)
