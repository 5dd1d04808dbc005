"""Run model cards: a short real run's checkpoint carries a card quoting its own metrics."""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import shlex
import shutil

import pytest
import torch

from experiments.cli import build_parser
from experiments.collect_infer.card import write_run_card
from experiments.collect_infer.config import TrainConfig
from experiments.collect_infer.loop import train
from experiments.collect_infer.rundir import RunDir
from perception.stats import wilson
from policy.checkpoint import load_policy
from sim.seeds import CURVE, FINAL, TRAIN
from tests.experiments.test_train_resume import SMALL_RUN, tiny_detector  # noqa: F401  (fixture)

SUCCESS = re.compile(r"- Success: ([\d.]+) \((\d+)/(\d+); 95% Wilson \[([\d.]+), ([\d.]+)\]\) "
                     r"on fresh greedy episodes \((.*?) at env step (\d+); scene seeds "
                     r"(\d+)\.\.(\d+)")


@pytest.fixture(scope="module")
def short_run(tmp_path_factory, tiny_detector):  # noqa: F811
    """Grasp red, oracle rewards, a tiny policy: a few rounds and a final evaluation."""
    cfg = TrainConfig(task="grasp the red object", detector="oracle", seed=2,
                      detector_path=str(tiny_detector), max_env_steps=60, eval_every=30,
                      target_success=None, **SMALL_RUN)
    run = RunDir(tmp_path_factory.mktemp("card") / "run").create()
    result = train(cfg, run, progress=False)
    return run, cfg, result


def card_commands(text: str) -> list[argparse.Namespace]:
    """The ``langstack`` command lines of a card's bash block, parsed by the real CLI parser
    (an unknown command or option, or a bad value, fails the test)."""
    block = re.search(r"```bash\n(.*?)```", text, re.S).group(1)
    parsed = []
    for line in block.splitlines():
        argv = shlex.split(line, comments=True)
        assert argv[0] == "langstack", line
        try:
            parsed.append(build_parser().parse_args(argv[1:]))
        except SystemExit:
            pytest.fail(f"the card's command does not parse: {line}")
    return parsed


def _success(text: str) -> tuple[str, ...]:
    return SUCCESS.search(text).groups()


def test_the_card_quotes_the_final_success_with_its_interval(
        short_run, tiny_detector):  # noqa: F811  (the fixture)
    run, cfg, result = short_run
    text = (run.checkpoint / "README.md").read_text()
    final = run.records("final")[-1]
    n = cfg.final_eval_episodes
    k = round(result["eval_success_rate"] * n)
    rate, k_card, n_card, lo, hi, what, at, first, last = _success(text)
    assert (int(k_card), int(n_card), what) == (k, n, "final evaluation")
    assert float(rate) == pytest.approx(final["eval_success_rate"], abs=5e-4)
    assert (float(lo), float(hi)) == pytest.approx(wilson(k, n), abs=5e-4)
    assert int(at) == result["env_steps"] >= cfg.max_env_steps
    assert (int(first), int(last)) == (FINAL.seed(cfg.seed, 0), FINAL.seed(cfg.seed, n - 1))
    episodes = result["episodes"]
    assert (f"Training episodes: {episodes}, scene seeds {TRAIN.seed(cfg.seed, 0)}.."
            f"{TRAIN.seed(cfg.seed, episodes - 1)}") in text
    detector = hashlib.sha256((tiny_detector / "model.safetensors").read_bytes()).hexdigest()
    policy = hashlib.sha256((run.checkpoint / "model.safetensors").read_bytes()).hexdigest()
    assert f"`{tiny_detector}`, weights sha256 `{detector}`" in text
    assert f"sha256 `{policy}`" in text
    assert "oracle" in text and "the robot is grasping the red object" in text
    for setting in ("max_env_steps | 60", "episodes_per_round | 4", "bc_steps_per_round | 5"):
        assert setting in text
    assert f"langstack eval --run-dir {run.root}" in text


def test_between_rounds_the_card_quotes_the_latest_curve_point(short_run, tmp_path):
    """Before the final evaluation (a round's checkpoint) the card quotes the last curve point."""
    run, cfg, _ = short_run
    copy = RunDir(tmp_path / "run")
    shutil.copytree(run.root, copy.root, ignore=shutil.ignore_patterns("tb"))
    lines = (copy.root / "metrics.jsonl").read_text().splitlines(keepends=True)
    (copy.root / "metrics.jsonl").write_text("".join(ln for ln in lines if '"final"' not in ln))
    text = write_run_card(copy).read_text()
    last_eval = copy.records("eval")[-1]
    n = last_eval["eval_episodes"]
    k = round(last_eval["eval_success_rate"] * n)
    rate, k_card, n_card, lo, hi, what, at, first, last = _success(text)
    assert (int(k_card), int(n_card), what) == (k, n, "learning-curve evaluation")
    assert int(at) == last_eval["env_steps"]
    assert (int(first), int(last)) == (CURVE.seed(cfg.seed, 0), CURVE.seed(cfg.seed, n - 1))
    trained = copy.records("round")[-1]["env_steps"]
    assert trained > last_eval["env_steps"]  # the checkpoint is newer than that curve point
    assert f"trained on {trained - last_eval['env_steps']} more env steps since" in text


def _copy_with_final(run: RunDir, dst, final_episodes: int, rate: float) -> RunDir:
    """A copy of ``run`` as an older version left it: its final record gives no episode count
    (and ``rate``), its config ``final_eval_episodes`` episodes."""
    copy = RunDir(dst)
    shutil.copytree(run.root, copy.root, ignore=shutil.ignore_patterns("tb"))
    records = [json.loads(ln) for ln in (copy.root / "metrics.jsonl").read_text().splitlines()]
    for rec in records:
        if rec["kind"] == "final":
            del rec["eval_episodes"]
            rec["eval_success_rate"] = rate
    (copy.root / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    config = copy.read_config()
    config["train"]["final_eval_episodes"] = final_episodes
    copy.write_config(config)
    return copy


def test_an_older_final_record_without_its_count(short_run, tmp_path):
    """The count comes from the run's setting; a rate it does not fit gets no interval."""
    run, cfg, _ = short_run
    fits = write_run_card(_copy_with_final(run, tmp_path / "a", 8, 0.375)).read_text()
    rate, k, n, lo, hi, what, *_ = _success(fits)
    assert (int(k), int(n), what) == (3, 8, "final evaluation")
    assert (float(lo), float(hi)) == pytest.approx(wilson(3, 8), abs=5e-4)
    text = write_run_card(_copy_with_final(run, tmp_path / "b", 10, 0.375)).read_text()
    line = next(ln for ln in text.splitlines() if ln.startswith("- Success: "))
    assert line.startswith("- Success: 0.375 (episode count not recorded: no interval) on "
                           "fresh greedy episodes (final evaluation at env step")
    assert "Wilson" not in line and "scene seeds" not in line


def test_the_cards_python_snippet_loads_the_policy(short_run):
    run, _, _ = short_run
    text = (run.checkpoint / "README.md").read_text()
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)  # the card's own code, as a user runs it
    expected = load_policy(run.checkpoint).state_dict()
    for key, value in scope["policy"].state_dict().items():
        assert torch.equal(value, expected[key]), key
    assert scope["spec"].plan == ("the robot is grasping the red object",)


def test_the_cards_commands_are_langstack_commands(short_run):
    run, cfg, _ = short_run
    evaluate, resume = card_commands((run.checkpoint / "README.md").read_text())
    assert (evaluate.command, evaluate.run_dir, evaluate.episodes) == ("eval", run.root, 100)
    assert (resume.command, resume.resume, resume.run_dir) == ("train", True, run.root)
    assert resume.max_env_steps == 2 * cfg.max_env_steps
