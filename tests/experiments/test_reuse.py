"""Lifelong data reuse: the current detector re-scores stored frame embeddings against the new
task's sub-goals, and exactly the steps that reached one of them are imported."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from experiments.cli import main
from experiments.collect_infer.detectors import ClipDetector, OracleDetector
from experiments.collect_infer.infer import ImitationData
from experiments.collect_infer.config import TrainConfig
from experiments.collect_infer.reuse import (
    ReuseError, check_sources, find_source, import_reused, redetect, reuse_record,
)
from perception.captions import CAPTIONS, grasp_caption, on_top_caption
from policy.episode import Episode
from policy.store import EpisodeStore

G_BLUE, G_RED, G_GREEN = grasp_caption("blue"), grasp_caption("red"), grasp_caption("green")
BLUE_ON_GREEN, RED_ON_BLUE = on_top_caption("blue", "green"), on_top_caption("red", "blue")
NEW_PLAN = [G_BLUE, BLUE_ON_GREEN]  # "stack the blue object on top of the green object"


class ScoresAreEmbeddings:
    """A stand-in CLIP model: an image embedding's component i is its score for CAPTIONS[i]."""

    def __init__(self, gamma: float, weights: str = "stand-in") -> None:
        self.gamma = gamma
        self.meta = {"weights_sha256": weights}

    def scores_from_embeddings(self, embs: np.ndarray, captions: list[str]) -> np.ndarray:
        return embs.mean(axis=1)[:, [CAPTIONS.index(c) for c in captions]]  # (T+1, K)


def _embs(frames: list[dict[str, float]]) -> np.ndarray:
    """(T+1, 2 cameras, 9) embeddings scoring each frame's captions as given (others 0)."""
    out = np.zeros((len(frames), 2, len(CAPTIONS)), np.float32)
    for t, scores in enumerate(frames):
        for caption, score in scores.items():
            out[t, :, CAPTIONS.index(caption)] = score
    return out


def _episode(frames: list[dict[str, float]] | None, detected: list[list[str]], seed: int = 0,
             detector: str = "clip", embedded_by: str | None = "stand-in") -> Episode:
    t = len(detected) - 1
    by = {} if frames is None or embedded_by is None else {"detector_sha256": embedded_by}
    return Episode(task="stack the red object on top of the blue object",
                   states=np.arange((t + 1) * 13, dtype=np.float32).reshape(t + 1, 13) + 1000 * seed,
                   actions=np.arange(t * 2, dtype=np.float32).reshape(t, 2) + 1000 * seed,
                   pursued=[G_RED] * t, env_rewards=np.zeros(t, np.float32),
                   frame_embs=None if frames is None else _embs(frames),
                   meta={"detected": detected, "seed": seed, "detector": detector, **by})


# An old "stack red on blue" episode: picks blue (weakly seen), drops it, picks it again, puts it
# on green, then picks red. Its stored detections (the old run's detector) saw none of it.
OLD_FRAMES = [{}, {G_BLUE: 0.6}, {}, {G_BLUE: 0.9}, {BLUE_ON_GREEN: 0.9}, {BLUE_ON_GREEN: 0.9, G_RED: 0.9}]
OLD_DETECTED = [[], [], [], [], [], [G_RED]]


def _data() -> ImitationData:
    return ImitationData({c: np.eye(len(CAPTIONS), dtype=np.float32)[i] for i, c in enumerate(CAPTIONS)})


def test_the_current_detector_rescores_stored_embeddings_not_the_stored_detections() -> None:
    episode = _episode(OLD_FRAMES, OLD_DETECTED)
    detector = ClipDetector(ScoresAreEmbeddings(gamma=0.5), captions=NEW_PLAN)
    assert redetect(episode, detector) == [set(), {G_BLUE}, set(), {G_BLUE}, {BLUE_ON_GREEN},
                                           {BLUE_ON_GREEN}]
    # a stricter detector re-scores the same data differently, without re-simulating
    strict = ClipDetector(ScoresAreEmbeddings(gamma=0.8), captions=NEW_PLAN)
    assert redetect(episode, strict)[1] == set()


def test_embeddings_of_another_detector_are_not_rescored(tmp_path) -> None:
    """Stored embeddings carry their detector's weights hash: another detector (or an unknown
    one) would score them as silent nonsense, so the import is refused, naming why."""
    detector = ClipDetector(ScoresAreEmbeddings(gamma=0.5, weights="v5" * 32), captions=NEW_PLAN)
    with pytest.raises(ValueError, match="embedded by the detector with weights sha256 v4v4"):
        redetect(_episode(OLD_FRAMES, OLD_DETECTED, embedded_by="v4" * 32), detector)
    with pytest.raises(ValueError, match="carry no detector hash"):
        redetect(_episode(OLD_FRAMES, OLD_DETECTED, embedded_by=None), detector)
    run = _run_dir(tmp_path / "v4_run", "clip", [_episode(OLD_FRAMES, OLD_DETECTED,
                                                          embedded_by="v4" * 32)])
    with pytest.raises(ReuseError, match="cannot re-score stored episodes.*cannot be embedded"):
        import_reused([str(run)], detector, NEW_PLAN, _data())
    with pytest.raises(ReuseError, match=f"cannot re-score {run}.*v4v4"):
        check_sources([str(run)], "clip", "v5" * 32)
    assert check_sources([str(run)], "clip", "v4" * 32)  # the same detector: fine


def test_import_takes_exactly_the_steps_that_reached_a_new_sub_goal(tmp_path) -> None:
    run = _run_dir(tmp_path / "old_run", "clip", [
        _episode(OLD_FRAMES, OLD_DETECTED, seed=0),
        _episode(None, [[], [G_BLUE]], seed=1),  # no embeddings: CLIP cannot re-score it
        _episode([{}, {RED_ON_BLUE: 0.9}], [[], [RED_ON_BLUE]], seed=2),  # nothing in the plan
    ])
    data = _data()
    detector = ClipDetector(ScoresAreEmbeddings(gamma=0.5), captions=NEW_PLAN)
    stats = import_reused([str(run)], detector, NEW_PLAN, data)
    assert (stats.episodes, stats.skipped, stats.imported_steps) == (3, 1, 3)
    assert stats.label_counts == {G_BLUE: 2, BLUE_ON_GREEN: 1} == data.counts()
    old = _episode(OLD_FRAMES, OLD_DETECTED)
    ds = data.dataset()
    np.testing.assert_array_equal(ds.states, old.states[[0, 2, 3]])  # pick, re-pick, place
    np.testing.assert_array_equal(ds.actions, old.actions[[0, 2, 3]])
    record = reuse_record(stats)
    assert record["kind"] == "reuse" and record["imported_steps"] == 3
    json.dumps(record)  # a metrics line


def test_oracle_rereads_its_ground_truth_and_skips_clip_data(tmp_path) -> None:
    truth = [[], [G_BLUE, G_GREEN], [G_BLUE], [BLUE_ON_GREEN, RED_ON_BLUE]]
    oracle_run = _run_dir(tmp_path / "oracle_run", "oracle", [_episode(None, truth, detector="oracle")])
    clip_run = _run_dir(tmp_path / "clip_run", "clip", [_episode(OLD_FRAMES, OLD_DETECTED)])
    data = _data()
    stats = import_reused([str(oracle_run), str(clip_run)], OracleDetector(), NEW_PLAN, data)
    assert (stats.episodes, stats.skipped) == (2, 1)
    assert stats.label_counts == {G_BLUE: 1, BLUE_ON_GREEN: 1}  # grasp green: not in the plan
    assert [tuple(s[:1]) for s in data.dataset().states] == [(0.0,), (26.0,)]  # steps 0 and 2


def test_sources_are_checked_before_a_run_starts(tmp_path, capsys) -> None:
    oracle_run = _run_dir(tmp_path / "oracle_run", "oracle", [_episode(None, [[], []], detector="oracle")])
    assert find_source(oracle_run).collected_by == "oracle"
    assert find_source(oracle_run / "episodes").collected_by is None  # a bare store
    with pytest.raises(ReuseError, match="--detector oracle"):
        check_sources([str(oracle_run)], "clip")
    with pytest.raises(ReuseError, match="not a run directory"):
        find_source(tmp_path / "missing")
    with pytest.raises(ValueError, match="framework"):
        TrainConfig(task="grasp the red object", agent="baseline", reuse_from=("x",))
    assert TrainConfig(task="t", reuse_from=["a", "b"]).reuse_from == ("a", "b")  # from JSON

    assert main(["train", "--task", "stack the blue object on top of the green object",
                 "--reuse-from", str(oracle_run), "--run-dir", str(tmp_path / "new")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--reuse-from" in err[0] and "no frame embeddings" in err[0], err
    assert not (tmp_path / "new").exists()


def _run_dir(root: Path, detector: str, episodes: list[Episode]) -> Path:
    """A finished-looking run directory holding ``episodes``."""
    with EpisodeStore(root / "episodes") as store:
        for ep in episodes:
            store.append(ep)
    (root / "config.json").write_text(json.dumps({"train": {"agent": "framework",
                                                            "detector": detector}}))
    return root


def test_a_run_imports_earlier_episodes_and_reimports_them_on_resume(tmp_path, monkeypatch) -> None:
    from experiments.collect_infer import loop
    from experiments.collect_infer.rundir import RunDir

    goals = dict(zip(CAPTIONS, np.random.default_rng(0).normal(size=(len(CAPTIONS), 16))))
    monkeypatch.setattr(loop, "plan_and_goals", lambda cfg: (NEW_PLAN, goals, None))  # no CLIP

    truth = [[], [G_BLUE], [BLUE_ON_GREEN], [BLUE_ON_GREEN, G_RED]]
    source = _run_dir(tmp_path / "old", "oracle", [
        _episode(None, truth, seed=s, detector="oracle") for s in range(3)])
    cfg = TrainConfig(task="stack the blue object on top of the green object", detector="oracle",
                      max_env_steps=1, horizon=3,
                      episodes_per_round=2, eval_every=1000, eval_episodes=1,
                      final_eval_episodes=1, bc_steps_per_round=2, batch_size=8,
                      target_success=None, video=False, reuse_from=(str(source),))
    run = RunDir(tmp_path / "new").create()
    loop.train(cfg, run, progress=False)
    reuse = run.records("reuse")
    assert [(r["imported_steps"], r["label_counts"]) for r in reuse] == [
        (6, {G_BLUE: 3, BLUE_ON_GREEN: 3})]
    first_round = run.records("round")[0]["label_counts"]
    assert first_round[G_BLUE] >= 3 and first_round[BLUE_ON_GREEN] >= 3  # exploration counts

    cfg.max_env_steps = run.records("final")[-1]["env_steps"] + 1
    loop.train(cfg, run, resume=True, progress=False)
    assert [r["imported_steps"] for r in run.records("reuse")] == [6, 6]  # deterministic


def test_fig7_sequence_reuses_the_earlier_tasks_of_the_seed_and_tabulates(tmp_path) -> None:
    from experiments.paper.reuse import REUSE_TASKS, plot_fig7, run_sequence, summarise, table_markdown

    calls = []

    def fake_run(task, seed, root, reuse_from, variant, feeds):
        calls.append((task.label, variant, [Path(p).name for p in reuse_from], feeds))
        steps = {"scratch": 1000, "reuse": 250}[variant] if task is not REUSE_TASKS[2] or seed else None
        return {"task": task.instruction, "seed": seed, "steps_to_50": steps, "env_steps": 4000,
                "eval_success_rate": 0.9, "final_episodes": 10,
                "run_dir": str(tmp_path / f"{task.label}-{variant}")}

    per_seed = [run_sequence(s, tmp_path, REUSE_TASKS, fake_run) for s in range(2)]
    assert calls[:5] == [  # feeds: the runs whose episodes a later task imports
        ("Stack red on blue", "scratch", [], True),
        ("Stack blue on green", "scratch", [], False),
        ("Stack blue on green", "reuse", ["Stack red on blue-scratch"], True),
        ("Stack green on red", "scratch", [], False),
        ("Stack green on red", "reuse", ["Stack red on blue-scratch", "Stack blue on green-reuse"],
         False)]
    summary = summarise(per_seed, REUSE_TASKS, "oracle")
    first, second, third = summary["tasks"]
    assert first["steps_to_50_with_reuse"] == first["steps_to_50_scratch"] == 1000
    assert (second["steps_to_50_with_reuse"], second["steps_to_50_scratch"],
            second["ratio"]["ratio"]) == (250, 1000, 0.25)
    assert third["steps_to_50_with_reuse"] is None  # seed 0 never reached 50%
    assert third["with_reuse"]["steps_to_50"] == [None, 250]
    json.dumps(summary)
    table = table_markdown(summary)
    assert "| Stack blue on green | 250, 250 | 250 [250, 250] |" in table and "> 4000, 250" in table
    assert "| 0.25x [0.2, 0.2] |" in table  # every seed alike: a degenerate interval
    plot_fig7(summary, tmp_path / "fig7.png")
    assert (tmp_path / "fig7.png").stat().st_size > 5000


def test_a_stored_run_explored_another_way_is_not_mixed_into_fig7(tmp_path, capsys) -> None:
    """Runs of an earlier Fig. 7 made with the set-down rule while exploring (config without
    the field) are not silently reused by today's default (--explore-held policy)."""
    from experiments.paper.reuse import REUSE_TASKS
    from experiments.collect_infer.rundir import RunDir, task_slug

    out = tmp_path / "fig7"
    run = RunDir(out / "runs" / f"{task_slug(REUSE_TASKS[0].instruction)}__scratch__0").create()
    run.write_config({"train": {"task": REUSE_TASKS[0].instruction}})
    assert main(["reproduce", "reuse", "--seeds", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "set_down_exploring: stored '<not recorded>', asked False" in err[0] \
        and "another --out" in err[0], err


def test_fig7_extends_a_shorter_stored_earlier_run_and_refuses_a_longer_one(
        tmp_path, monkeypatch) -> None:
    """--earlier-steps: a stored run that stopped short of it is resumed with the new minimum
    (its steps to 50% stay those of its curve); a run that collected more than asked is not
    mixed in."""
    import dataclasses

    import experiments.collect_infer.loop as loop
    from experiments.collect_infer.identity import identity_of
    from experiments.paper.exploration import run_one
    from experiments.paper.reuse import REUSE_TASKS

    calls = []

    def fake_train(cfg, run, resume=False, progress=True):  # a run that reaches 50% at 600
        calls.append((cfg.min_env_steps, resume))
        run.write_config({"train": dataclasses.asdict(cfg), "identity": identity_of(cfg)})
        run.log({"kind": "eval", "env_steps": 600, "eval_success_rate": 1.0})
        run.log({"kind": "final", "env_steps": max(600, cfg.min_env_steps),
                 "eval_success_rate": 1.0, "steps_to_50": 600, "wall_s": 1.0})

    monkeypatch.setattr(loop, "train", fake_train)
    args = (REUSE_TASKS[0], "framework", 0, tmp_path, "oracle", 0.95, 1.0, False, lambda m: None)
    assert run_one(*args, set_down_exploring=False)["env_steps"] == 600
    run_one(*args, set_down_exploring=False)  # finished: read back, not run again
    assert calls == [(0, False)]
    longer = run_one(*args, set_down_exploring=False, min_env_steps=3000)
    assert calls == [(0, False), (3000, True)]
    assert (longer["env_steps"], longer["steps_to_50"]) == (3000, 600)
    with pytest.raises(ValueError, match="min_env_steps: stored 3000, asked 0"):
        run_one(*args, set_down_exploring=False)


def test_fig7_rejects_negative_seed_offsets_and_step_minimums(tmp_path, capsys) -> None:
    for flag in ("--first-seed", "--earlier-steps"):
        assert main(["reproduce", "reuse", flag, "-1", "--out", str(tmp_path / "x")]) == 2
        err = capsys.readouterr().err
        assert "--first-seed and --earlier-steps must be >= 0" in err, err
    assert not (tmp_path / "x").exists()  # nothing was made
