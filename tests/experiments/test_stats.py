"""The Wilson interval that every reported rate carries."""
from __future__ import annotations

import pytest

from experiments.collect_infer.stats import wilson


def test_known_values() -> None:
    lo, hi = wilson(10, 20)
    assert lo == pytest.approx(0.2993, abs=1e-4) and hi == pytest.approx(0.7007, abs=1e-4)
    lo, hi = wilson(1, 100)
    assert lo == pytest.approx(0.00177, abs=1e-4) and hi == pytest.approx(0.0545, abs=1e-4)


@pytest.mark.parametrize("trials", [1, 7, 50, 300, 10_000])
def test_every_rate_lies_inside_its_own_interval(trials: int) -> None:
    for hits in range(0, trials + 1, max(1, trials // 50)):
        lo, hi = wilson(hits, trials)
        assert 0.0 <= lo <= hits / trials <= hi <= 1.0, (hits, trials, lo, hi)
    assert wilson(trials, trials)[1] == 1.0 and wilson(0, trials)[0] == 0.0


def test_no_trials_say_nothing_and_bad_counts_are_refused() -> None:
    assert wilson(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError, match="successes <= trials"):
        wilson(5, 3)


def test_censored_quartiles_count_a_seed_that_never_got_there_as_beyond_the_budget() -> None:
    from experiments.collect_infer.stats import censored_quartiles

    assert censored_quartiles([100, 200, None, 300, 400]) == (200, 300, 400)
    assert censored_quartiles([100, None])[1] == float("inf")  # two seeds: the higher middle
    assert censored_quartiles([None, None, 100])[1] == float("inf")
    assert censored_quartiles([5]) == (5, 5, 5)


def test_ratio_of_medians_has_a_bootstrap_interval_around_it() -> None:
    from experiments.collect_infer.stats import ratio_of_medians

    slow, fast = [1000, 2000, 3000, 2500, 1500], [100, 120, 90, 110, 105]
    r = ratio_of_medians(slow, fast)
    assert r["ratio"] == 2000 / 105
    lo, hi = r["ci95"]
    assert 1000 / 120 <= lo < r["ratio"] < hi <= 3000 / 90
    assert ratio_of_medians([None] * 3, fast)["ratio"] is None
    assert ratio_of_medians(slow, fast) == r  # seeded: the same interval every time
