"""The train loop's ``eval_at``: a curve on a grid shared with other learners."""
from __future__ import annotations

import math

import pytest

from experiments.collect_infer.config import TrainConfig, check_settings, config_from_dict
from experiments.collect_infer.loop import _next_eval
from tests.experiments.test_train_resume import SMALL_RUN, tiny_detector  # noqa: F401


def test_next_eval_walks_the_grid_or_every_eval_every() -> None:
    grid = TrainConfig(task="grasp the red object", eval_at=(0, 100, 250))
    assert _next_eval(grid, None) == 0
    assert _next_eval(grid, 0) == 100
    assert _next_eval(grid, 130) == 250  # the eval at 130 stood for 100
    assert _next_eval(grid, 130, resumed=True) == 250
    assert _next_eval(grid, 260) == math.inf
    every = TrainConfig(task="grasp the red object", eval_every=2000)
    assert (_next_eval(every, None), _next_eval(every, 2100)) == (0, 4100)
    assert _next_eval(every, 2100, resumed=True) == 4000


def test_eval_at_and_eval_range_are_checked_and_stored() -> None:
    for bad in ((5, 3), (0, 0), (-1, 4)):
        with pytest.raises(ValueError, match="eval_at"):
            check_settings(TrainConfig(task="grasp the red object", eval_at=bad))
    with pytest.raises(ValueError, match="eval_range"):
        check_settings(TrainConfig(task="grasp the red object", eval_range="final"))
    cfg = TrainConfig(task="grasp the red object", eval_at=[0, 50], eval_range="peers")
    assert cfg.eval_at == (0, 50)
    from dataclasses import asdict
    import json

    again = config_from_dict(json.loads(json.dumps(asdict(cfg))), "test")
    assert (again.eval_at, again.eval_range) == ((0, 50), "peers")


def test_a_run_is_evaluated_at_the_grid_and_at_the_end_of_its_budget(tmp_path, tiny_detector):
    """Each point at the first round end at or after it; the last one when the budget is
    spent (no round after it); on the peers' scenes."""
    from experiments.collect_infer.loop import train
    from experiments.collect_infer.rundir import RunDir

    cfg = TrainConfig(task="grasp the red object", detector="oracle",
                      detector_path=str(tiny_detector), max_env_steps=50,
                      eval_at=(0, 20, 50), eval_range="peers", target_success=None, **SMALL_RUN)
    run = RunDir(tmp_path / "run").create()
    result = train(cfg, run, progress=False)
    evals = [r["env_steps"] for r in run.records("eval")]
    rounds = [r["env_steps"] for r in run.records("round")]
    assert evals == [0, next(s for s in rounds if s >= 20), rounds[-1]]
    assert rounds[-1] == result["env_steps"] >= 50 and rounds[-2] < 50  # no round after it
    assert all(r["eval_episodes"] == cfg.eval_episodes for r in run.records("eval"))
