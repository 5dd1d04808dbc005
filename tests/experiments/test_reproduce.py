"""``langstack reproduce exploration``: bad input, the curve mean, and a tiny end-to-end run
that is reused (not re-trained) when the command runs again."""
from __future__ import annotations

import json

import pytest

from experiments.paper.exploration import ExplorationTask, _mean_curve, run_exploration
from tests.experiments.conftest import assert_clean_usage_error, langstack
from tests.experiments.test_train_resume import tiny_detector  # noqa: F401  (fixture)


def test_unknown_task_key_is_a_usage_error(tmp_path) -> None:
    proc = langstack("reproduce", "exploration", "--tasks", "grasp,juggle", "--out", str(tmp_path))
    assert_clean_usage_error(proc, "juggle", "grasp, stack, triple")


def test_mean_curve_carries_an_early_stopped_run_forward() -> None:
    xs, ys = _mean_curve([[(0, 0.0), (100, 1.0)], [(0, 0.0), (100, 0.5), (200, 0.5)]])
    assert xs.tolist() == [0, 100, 200]
    assert ys.tolist() == [0.0, 0.75, 0.75]


def test_tiny_exploration_run_writes_figures_and_is_reused(tmp_path, tiny_detector) -> None:
    grasp = (ExplorationTask("grasp the red object", "Grasp red", 60),)
    # 30 samples: a random pick grasps red rarely enough that 10 may see none (no estimate)
    kwargs = dict(seeds=1, out=tmp_path, detector="oracle", sparsity_samples=30, tasks=grasp,
                  progress=False, say=lambda m: None, detector_path=str(tiny_detector),
                  final_eval_episodes=5, eval_episodes=5)
    summary = run_exploration(**kwargs)
    for name in ("fig4.png", "fig5.png", "exploration.md", "exploration.json"):
        assert (tmp_path / name).stat().st_size > 0
    row = summary["tasks"][0]
    assert row["framework"]["seeds"] == row["baseline"]["seeds"] == 1
    assert 0 < row["sparseness"] < 1e3
    runs = json.loads((tmp_path / "exploration.json").read_text())["runs"]
    assert {r["agent"] for r in runs} == {"framework", "baseline"}
    metrics = sorted(tmp_path.glob("runs/*/metrics.jsonl"))
    before = [m.read_text() for m in metrics]
    assert run_exploration(**kwargs)["tasks"] == summary["tasks"]  # read back, not re-run
    assert [m.read_text() for m in metrics] == before
    more = run_exploration(**{**kwargs, "seeds": 2, "baseline_seeds": 1})["tasks"][0]
    assert more["framework"]["seeds"] == 2 and more["baseline"]["seeds"] == 1
    assert not list(tmp_path.glob("runs/*__baseline__1"))  # the baseline's seed 1 never ran
    assert "2 seeds (1 of the baseline)" in (tmp_path / "exploration.md").read_text()
    # run identity: a stored run with any other setting is not tabulated as this experiment
    for changed, field in (({"budget_scale": 0.5}, "max_env_steps"),
                           ({"final_eval_episodes": 7}, "final_eval_episodes"),
                           ({"target_success": 0.9}, "target_success")):
        with pytest.raises(ValueError, match=f"another run than the one asked for.*{field}: "
                                             f"stored"):
            run_exploration(**{**kwargs, **changed})
    assert [m.read_text() for m in metrics] == before  # nothing was touched
    config = json.loads((sorted(tmp_path.glob("runs/*__framework__0"))[0] / "config.json")
                        .read_text())
    assert len(config["identity"]["detector_sha256"]) == 64 and config["identity"]["planner"]
