"""``langstack reproduce video``: one-shot imitation from shifted demo videos.

For every instruction and seed: the scripted expert is rendered under visual domain shift
(moved cameras, other light and cubes, the KUKA iiwa in place of the Panda;
``langstack demo-video --shift``), the imitator reads the plan off the video
(:func:`experiments.imitation.imitate.read_plan`), and the plan counts as right when it equals the
planner's plan for the instruction the video was made from. With a trained run, its policy
then pursues the plan read off the video in fresh scenes, and an episode succeeds when the
*demonstrated* task holds (ground truth): a wrong plan executed well is still a failure.
Writes ``OUT/videos/*.mp4``, ``OUT/video.md`` and ``OUT/video.json``.

``--foreign`` (:func:`run_foreign_videos`) adds videos as someone else would record them: one
camera anywhere around the table, other arms, tables, light and cubes, 240-400 px frames of
several aspects, blur, noise and compression, idle seconds at both ends (``sim.styles``), in
the training style families and in each held-out one (leave-one-style-out), read by the same
reader; plan accuracy per family with Wilson intervals, beside the shifted set.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from tqdm import tqdm

DEFAULT_INSTRUCTIONS: tuple[str, ...] = (
    "stack the red object on top of the blue object",
    "stack the green object on top of the red object",
    "stack all three objects",
    "stack the blue object on the green object and then the red object on the blue object",
)
FOREIGN_INSTRUCTIONS: tuple[str, ...] = DEFAULT_INSTRUCTIONS + ("grasp the green object",)
"""The foreign videos' tasks: stacks, towers and a grasp-only demo (it ends with the cube held)."""
FOREIGN_SPLITS: tuple[str, ...] = ("train", "held-out-arm", "held-out-sector",
                                   "held-out-surface", "held-out")
"""Style families of the foreign videos: the training families, each factor's held-out
families with the others from training, and every factor held out."""
IDLE_FRAMES = 16
"""Idle frames at each end of a foreign video (2 s at the demo videos' 8 fps)."""


def run_video_experiment(instructions: Sequence[str], seeds: Sequence[int], out: Path,
                         run_dir: Path | None, episodes: int, detector: Any,
                         progress: bool = True, foreign: int = 0) -> dict[str, Any]:
    """Make, read and (with ``run_dir``) imitate one shifted video per instruction and seed;
    with ``foreign`` > 0, also read that many foreign videos per instruction of
    :data:`FOREIGN_INSTRUCTIONS` and style split (:func:`run_foreign_videos`)."""
    from experiments.imitation.imitate import WatchConfig, read_plan
    from planner import make_planner

    planner = make_planner("auto")
    (out / "videos").mkdir(parents=True, exist_ok=True)
    jobs = [(ins, k) for ins in instructions for k in seeds]
    rows = []
    for ins, k in tqdm(jobs, desc="videos", unit="video", disable=not progress):
        t0 = time.perf_counter()
        row = _make_video(ins, k, out)
        row["expected_plan"] = planner.plan(ins)
        video = read_plan(row["video"], detector, WatchConfig(), progress=False)
        row.update(plan=video.plan, plan_correct=video.plan == row["expected_plan"],
                   confidence=round(video.confidence, 4), readable=video.readable,
                   changes=[[t, m] for t, m in video.changes])
        if run_dir is not None:
            row.update(_execute(run_dir, video.plan if video.readable else [], ins, episodes, k))
        row["seconds"] = round(time.perf_counter() - t0, 1)
        rows.append(row)
    summary = _summary(rows, instructions, run_dir, episodes, detector)
    text = markdown(summary)
    if foreign:
        summary["foreign"] = run_foreign_videos(FOREIGN_INSTRUCTIONS, foreign, out, detector,
                                                progress=progress, run_dir=run_dir,
                                                episodes=episodes)
        text += "\n" + foreign_markdown(summary["foreign"])
    (out / "video.json").write_text(json.dumps(summary, indent=1))
    (out / "video.md").write_text(text)
    return summary


def _make_video(instruction: str, seed: int, out: Path) -> dict[str, Any]:
    from experiments.collect_infer.rundir import task_slug
    from experiments.collect_infer.tasks import task_for
    from experiments.imitation.demo_video import write_demo_video
    from sim.demo import DemoConfig

    path = out / "videos" / f"{task_slug(instruction)}__seed{seed}.mp4"
    demo = write_demo_video(task_for(instruction), path, DemoConfig(shift=True, seed=seed))
    return {"instruction": instruction, "seed": seed, "video": str(path),
            "shown_plan": demo["shown_plan"], "expert_success": demo["expert_success"]}


def _execute(run_dir: Path, plan: list[str], instruction: str, episodes: int,
             seed: int) -> dict[str, Any]:
    from experiments.imitation.imitate import execute_plan

    if not plan:  # nothing read off the video (or not surely): the demo is not imitated
        return {"success_rate": 0.0, "episodes": 0}
    run = execute_plan(run_dir, plan, episodes, seed, judge=instruction, progress=False)
    return {"success_rate": run["success_rate"], "episodes": len(run["episodes"])}


def _summary(rows: list[dict[str, Any]], instructions: Sequence[str], run_dir: Path | None,
             episodes: int, detector: Any) -> dict[str, Any]:
    per = []
    for ins in instructions:
        mine = [r for r in rows if r["instruction"] == ins]
        per.append({"instruction": ins, "videos": len(mine),
                    "plan_accuracy": float(np.mean([r["plan_correct"] for r in mine])),
                    "success_rate": _mean_success(mine, run_dir)})
    return {"plan_accuracy": float(np.mean([r["plan_correct"] for r in rows])),
            "success_rate": _mean_success(rows, run_dir),
            "instructions": per, "run_dir": str(run_dir) if run_dir else None,
            "episodes_per_video": episodes if run_dir else 0,
            "detector": detector.meta.get("path", detector.spec.name), "gamma": detector.gamma,
            "videos": rows}


def _mean_success(rows: list[dict[str, Any]], run_dir: Path | None) -> float | None:
    """Mean over videos of each video's success rate (a video with no plan counts as 0)."""
    return float(np.mean([r["success_rate"] for r in rows])) if run_dir else None


def markdown(summary: dict[str, Any]) -> str:
    """The result table."""
    ran = summary["run_dir"] is not None
    lines = ["# One-shot imitation from shifted demo videos", "",
             f"Detector reading the videos: `{summary['detector']}` "
             f"(gamma {summary['gamma']:.3f}). "
             + (f"Policy: `{summary['run_dir']}`, {summary['episodes_per_video']} fresh scenes "
                "per video, success judged on the demonstrated task." if ran else
                "No run given: plans only."), "",
             "| instruction | videos | plan exactly right | execution success |",
             "|---|---:|---:|---:|"]
    for r in summary["instructions"]:
        ok = "-" if r["success_rate"] is None else f"{r['success_rate']:.2f}"
        lines.append(f"| {r['instruction']} | {r['videos']} | {r['plan_accuracy']:.2f} | {ok} |")
    ok = "-" if summary["success_rate"] is None else f"{summary['success_rate']:.2f}"
    n, acc = len(summary["videos"]), summary["plan_accuracy"]
    lines.append(f"| **all** | {n} | **{acc:.2f}** | **{ok}** |")
    wrong = [v for v in summary["videos"] if not v["plan_correct"]]
    if wrong:
        lines += ["", "Wrong plans:"]
        lines += [f"- {v['instruction']} (seed {v['seed']}): read {_short(v['plan'])}"
                  for v in wrong]
    return "\n".join(lines) + "\n"


def run_foreign_videos(instructions: Sequence[str], videos: int, out: Path, detector: Any,
                       splits: Sequence[str] = FOREIGN_SPLITS, progress: bool = True,
                       run_dir: Path | None = None, episodes: int = 0) -> dict[str, Any]:
    """``videos`` foreign videos per instruction and style split, read by ``detector``; plan
    accuracy per split (Wilson 95%). With ``run_dir`` and ``episodes``, the run's policy also
    executes each plan read surely in that many fresh scenes, judged on the demonstrated task;
    per split, the mean success over all videos and over the videos read right. Writes the
    videos under ``OUT/foreign/``."""
    from experiments.collect_infer.rundir import task_slug
    from experiments.collect_infer.stats import wilson
    from experiments.collect_infer.tasks import task_for
    from experiments.imitation.demo_video import write_demo_video
    from experiments.imitation.imitate import WatchConfig, read_plan
    from experiments.imitation.styled_frames import split_families
    from planner import make_planner
    from sim.demo import foreign_demo_config

    planner = make_planner("auto")
    executed = run_dir is not None and episodes > 0
    (out / "foreign").mkdir(parents=True, exist_ok=True)
    jobs = [(split, i, ins, k) for split in splits for i, ins in enumerate(instructions)
            for k in range(videos)]
    rows = []
    for split, i, ins, k in tqdm(jobs, desc="foreign videos", unit="video", disable=not progress):
        cfg = foreign_demo_config(split, split_families(split), i * videos + k,
                                  lead_frames=IDLE_FRAMES, hold_frames=IDLE_FRAMES)
        path = out / "foreign" / f"{split}__{task_slug(ins)}__{k}.mp4"
        demo = write_demo_video(task_for(ins), path, cfg)
        video = read_plan(path, detector, WatchConfig(), progress=False)
        expected = planner.plan(ins)
        rows.append({"split": split, "instruction": ins, "video": str(path),
                     "style": {"arm": cfg.style.arm, "sector": cfg.style.sectors[0],
                               "surface": cfg.style.surface, "seed": cfg.style.seed},
                     "frame_size": demo["frame_size"], "expert_success": demo["expert_success"],
                     "expected_plan": expected, "plan": video.plan,
                     "plan_correct": video.plan == expected, "readable": video.readable,
                     "confidence": round(video.confidence, 4)})
        if executed:
            plan = video.plan if video.readable else []
            rows[-1].update(_execute(run_dir, plan, ins, episodes, i * videos + k))
    per_split = []
    for split in splits:
        mine = [r for r in rows if r["split"] == split]
        k, n = sum(r["plan_correct"] for r in mine), len(mine)
        per_split.append({"split": split, "videos": n, "plan_correct": k,
                          "plan_accuracy": k / n if n else None, "wilson95": list(wilson(k, n)),
                          "readable": sum(r["readable"] for r in mine),
                          **_split_success(mine, executed)})
    return {"splits": per_split, "videos": rows, "videos_per_instruction": videos,
            "instructions": list(instructions),
            "episodes_per_video": episodes if executed else 0}


def _split_success(rows: list[dict[str, Any]], executed: bool) -> dict[str, Any]:
    """Mean execution success over a split's videos and over those read right (None where
    nothing was executed)."""
    right = [r for r in rows if r["plan_correct"]]
    return {"success_rate": _mean_success(rows, executed) if rows else None,
            "success_when_right": _mean_success(right, executed) if right else None}


def foreign_markdown(foreign: dict[str, Any]) -> str:
    """The foreign videos' table: plan accuracy per style split (and execution success when
    plans were executed)."""
    ran = bool(foreign.get("episodes_per_video"))
    extra = " execution success | ... on plans read right |" if ran else ""
    lines = ["## Foreign videos (one camera, other arms, tables, light; sim.styles)", "",
             "| style families | videos | plan exactly right [Wilson 95%] | read surely |" + extra,
             "|---|---:|---|---:|" + ("---:|---:|" if ran else "")]
    for r in foreign["splits"]:
        lo, hi = r["wilson95"]
        acc = "-" if r["plan_accuracy"] is None else f"{r['plan_accuracy']:.2f}"
        row = (f"| {r['split']} | {r['videos']} | {acc} [{lo:.2f}, {hi:.2f}] "
               f"({r['plan_correct']}/{r['videos']}) | {r['readable']} |")
        if ran:
            row += "".join(" - |" if v is None else f" {v:.2f} |"
                           for v in (r["success_rate"], r["success_when_right"]))
        lines.append(row)
    lines += ["", f"{foreign['videos_per_instruction']} video(s) per instruction and split, of: "
              + "; ".join(foreign["instructions"]) + ". Held-out families are never drawn for "
              "training a reader (`sim.styles.HELD_OUT`)."
              + (f" Each plan read surely is executed in {foreign['episodes_per_video']} fresh "
                 "scenes, judged on the demonstrated task." if ran else ""), ""]
    return "\n".join(lines)


def _short(plan: list[str]) -> str:
    if not plan:
        return "nothing"
    return "; ".join(c.replace("the robot is ", "").replace(" object", "").replace("the ", "")
                     for c in plan)
