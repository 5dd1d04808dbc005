"""Multi-skill runs (``train --also``) and skill scheduling (``langstack run``,
``reproduce scheduling``)."""
from __future__ import annotations

import json

import pytest
from dataclasses import replace

from experiments.collect_infer.actors import ActorPool
from experiments.paper.scheduling import run_scheduling
from perception.captions import grasp_caption, on_top_caption
from policy.model import PolicyConfig, make_policy
from sim.tasks import grasp_task, stack_task
from tests.experiments.conftest import assert_clean_usage_error, langstack, last_json
from tests.experiments.test_actors import _spec, _weights
from tests.experiments.test_train_resume import tiny_detector  # noqa: F401  (fixture)

STACK = "stack the green object on top of the blue object"


def test_a_multi_skill_actor_rotates_tasks_and_plans_by_seed() -> None:
    stack_plan = (grasp_caption("green"), on_top_caption("green", "blue"))
    spec = replace(_spec(), more_tasks=((stack_task("green", "blue"), stack_plan),))
    assert spec.task_for(4) == (grasp_task("red"), (grasp_caption("red"),))
    assert spec.task_for(5) == (stack_task("green", "blue"), stack_plan)
    pool = ActorPool(spec, 1)
    policy = make_policy(PolicyConfig(**spec.policy_config), seed=0)
    rollouts = pool.collect([4, 5, 6, 7], _weights(policy), {})
    pool.close()
    assert [r.episode.task for r in rollouts] == ["grasp the red object", STACK] * 2
    for r in rollouts:  # every pursued sub-goal is one of that episode's own plan
        plan = spec.task_for(r.episode.meta["seed"])[1]
        assert set(r.episode.pursued) <= set(plan)


def test_run_rejects_a_missing_run_and_a_bad_video_name(tmp_path) -> None:
    proc = langstack("run", "--instruction", STACK, "--run-dir", str(tmp_path / "nope"))
    assert_clean_usage_error(proc, "not a run directory")
    (tmp_path / "config.json").write_text("{}")
    proc = langstack("run", "--instruction", STACK, "--run-dir", str(tmp_path),
                     "--video", str(tmp_path / "x.avi"))
    assert_clean_usage_error(proc, ".mp4 or .gif")


def test_a_multi_skill_run_executes_a_new_instruction(tmp_path, tiny_detector) -> None:
    from experiments.collect_infer.config import TrainConfig
    from experiments.collect_infer.loop import train
    from experiments.collect_infer.rundir import RunDir

    run = tmp_path / "run"
    also = "stack the red object on top of the green object"
    cfg = TrainConfig(task=STACK, also=(also,), detector="oracle", max_env_steps=40,
                      eval_every=1000, final_eval_episodes=2, video=False,
                      detector_path=str(tiny_detector))
    train(cfg, RunDir(run).create(), progress=False)
    assert json.loads((run / "config.json").read_text())["train"]["also"] == [also]
    manifest = (run / "episodes" / "manifest.jsonl").read_text().splitlines()
    assert {json.loads(x)["task"] for x in manifest} == {STACK, also}
    new = "stack all three objects"
    proc = langstack("run", "--instruction", new, "--run-dir", str(run), "--episodes", "2",
                     "--video", str(tmp_path / "run.gif"), "--json")
    assert proc.returncode == 0, proc.stderr
    result = last_json(proc)
    assert result["task"] == new and len(result["plan"]) == 4 and result["episodes"] == 2
    assert 0.0 <= result["success_rate"] <= 1.0 and (tmp_path / "run.gif").stat().st_size > 0
    summary = run_scheduling(run, (new, STACK), 1, tmp_path / "sched", progress=False,
                             say=lambda m: None)
    assert [r["trained_as_task"] for r in summary["instructions"]] == [False, True]
    for name in ("scheduling.md", "scheduling.json", "scheduling.png"):
        assert (tmp_path / "sched" / name).stat().st_size > 0
    # eval of its own task pursues the plan the run learned (config.json), not a new one, and
    # reports the planner that made it
    from experiments.collect_infer.config import ConfigError
    from experiments.collect_infer.evaluate import evaluate_run

    config = json.loads((run / "config.json").read_text())
    assert config["identity"]["planner"] == "grammar"
    config["plan"] = config["plan"][:1]
    (run / "config.json").write_text(json.dumps(config))
    result = evaluate_run(run, None, 1, 0, progress=False)
    assert result["plan"] == config["plan"] and result["planner"] == "grammar"
    config["plan"] = ["juggle the red object"]
    (run / "config.json").write_text(json.dumps(config))
    with pytest.raises(ConfigError, match="plan"):
        evaluate_run(run, None, 1, 0, progress=False)
