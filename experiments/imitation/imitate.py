"""One-shot imitation from a video: read the sub-goals a video shows, then pursue them.

    frames   = read the video (subsampled to at most max_frames)
    scores   = CLIP cosine of every view of every frame with every caption (experiments.imitation.watch)
    scenes   = the most likely sequence of symbolic scenes (held cube, stacks) that physics
               allows, given the scores (experiments.imitation.decode: an HMM, Viterbi)
    plan     = what the last scene shows, in the planner's format, with its posterior
               probability; below DecodeConfig.min_confidence the video counts as unreadable
    success  = the run's policy pursues the plan in a fresh scene; judged by the ground truth

**Plan format.** The planner writes "stack X on Y" as [grasp X, X on Y] and a grasp task as
[grasp X]. The plan of a scene lists each tower bottom-up (grasp a cube, put it on the one
below) and ends with the grasp of the cube still held (a grasp-only demonstration); a stack
made and undone within the video is not part of it.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from tqdm import tqdm

from experiments.imitation.decode import DecodeConfig, Decoded, decode
from experiments.imitation.frames import BAR_DELAY, VideoFrames, read_video
from experiments.imitation.watch import frame_scores, to_views
from perception.captions import CAPTIONS, caption_to_predicate
from planner import goal_of_plan
from sim.seeds import IMITATE
from sim.tasks import Task, grasp_task, stack_task


@dataclass(frozen=True)
class WatchConfig:
    """How a video is read into a plan."""

    max_frames: int = 240
    """Longer videos are subsampled evenly to this many frames."""
    views: int | None = None
    """Views side by side in a frame (None: 2 if the frame is twice as wide as high, else 1)."""
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    """How the scores are weighed against the physics prior (and the confidence required)."""

    def __post_init__(self) -> None:
        if self.max_frames < 1:
            raise ValueError("max_frames must be >= 1")


@dataclass
class VideoPlan:
    """What was read off a video."""

    plan: list[str]
    confidence: float = 0.0
    """Posterior probability of the plan (see :mod:`experiments.imitation.decode`)."""
    readable: bool = False
    """Whether the plan may be acted on (non-empty, confidence >= the configured minimum)."""
    reason: str = ""
    """Why not, when it is not readable."""
    changes: list[tuple[int, str]] = field(default_factory=list)
    """(frame, moves) where the decoded scene changes, in the scored frames' indices."""
    alternatives: list[tuple[list[str], float]] = field(default_factory=list)
    frames_scored: int = 0
    frames_total: int = 0
    views: int = 1
    gamma: float = 0.0
    best_score: float = float("-inf")
    """Highest frame score of any caption (tells how far a video without a plan fell short)."""

    def summary(self) -> dict[str, Any]:
        """The JSON-ready reading: plan, confidence, reason, changes, alternatives, counts."""
        return {"plan": self.plan, "confidence": round(self.confidence, 4),
                "readable": self.readable, "reason": self.reason,
                "changes": [{"frame": t, "moves": m} for t, m in self.changes],
                "alternatives": [{"plan": p, "probability": round(q, 4)}
                                 for p, q in self.alternatives],
                "frames_total": self.frames_total, "frames_scored": self.frames_scored,
                "views": self.views, "gamma": self.gamma,
                "best_score": round(self.best_score, 4)}


def _video_plan(d: Decoded, cfg: DecodeConfig, **counts: Any) -> VideoPlan:
    return VideoPlan(d.plan, d.confidence, d.readable(cfg), d.reason, d.changes,
                     d.alternatives, **counts)


# ---------------------------------------------------------------------------- reading a video
def read_plan(video: str | Path | VideoFrames, detector: Any, cfg: WatchConfig | None = None,
              progress: bool = True) -> VideoPlan:
    """The plan a video (a path, or frames from :func:`experiments.imitation.frames.read_video`) shows,
    read by ``detector`` (a ``perception.Detector``)."""
    cfg = cfg or WatchConfig()
    frames = video if isinstance(video, VideoFrames) else read_video(video, cfg.max_frames,
                                                                     progress=progress)
    evidence = None
    if hasattr(detector, "localiser"):  # a VideoReader crops whole views around the cubes
        views = to_views(frames.frames, cfg.views, square=False)  # (N, V, H, W, 3)
        scores, evidence = detector.read(views)  # (N, K) each: crop scores, cube tracks
    else:
        views = to_views(frames.frames, cfg.views)  # (N, V, S, S, 3)
        scores = frame_scores(detector, views, progress=progress)  # (N, K)
    decoded = decode(scores, detector.video_gamma, CAPTIONS, cfg.decode, evidence)
    return _video_plan(decoded, cfg.decode, frames_scored=len(views), frames_total=frames.total,
                       views=views.shape[1], gamma=detector.video_gamma,
                       best_score=float(scores.max()))


TRUTH_GAMMA = 0.5
"""Ground truth read as scores: 1 where a predicate holds, 0 where not, judged at 0.5."""


def plan_from_predicates(predicates: Sequence[dict[str, bool]]) -> Decoded:
    """What a perfect detector reads off a rendered demo's ground-truth timeline."""
    truth = np.array([[p[caption_to_predicate(c)] for c in CAPTIONS] for p in predicates],
                     dtype=np.float32)  # (T, K) of 0/1
    return decode(truth, TRUTH_GAMMA, CAPTIONS)


# ---------------------------------------------------------------------------- executing a plan
def plan_task(plan: Sequence[str]) -> Task:
    """The task a plan is judged by: its end state (``planner.goal_of_plan``: the stacks
    standing at its end, and the object it ends holding), named by :func:`plan_instruction`."""
    return Task.from_goal(plan_instruction(plan), goal_of_plan(plan))


def plan_instruction(plan: Sequence[str]) -> str:
    """An instruction naming the plan's end state: each of its stacks, then its final grasp."""
    goal = goal_of_plan(plan)
    if not goal:
        raise ValueError(f"the plan names no stack or grasp: {list(plan)}")
    end = Task.from_goal("", goal)
    steps = [stack_task(x, y).instruction for x, y in end.stacks]
    return ", then ".join(steps + ([grasp_task(end.grasp).instruction] if end.grasp else []))


def execute_plan(run_dir: str | Path, plan: Sequence[str], episodes: int = 1, seed: int = 0,
                 horizon: int | None = None, judge: str | None = None,
                 progress: bool = True) -> dict[str, Any]:
    """The run's policy pursues ``plan`` in ``episodes`` fresh scenes (greedy).

    The agent moves through the plan as the run's detector confirms each sub-goal; an
    episode succeeds when the env's task holds (ground-truth predicates, which the agent
    never reads): the task of instruction ``judge`` (e.g. the one a demo video was made
    from), by default the plan's own (every stack of the plan at once, or its final grasp).
    """
    from experiments.collect_infer.actors import Actor
    from experiments.collect_infer.collect import run_episode
    from experiments.collect_infer.evaluate import load_run_policy
    from experiments.collect_infer.prepare import policy_weights

    spec, policy, cfg = load_run_policy(Path(run_dir), judge)
    if cfg.agent == "baseline":
        raise ValueError(f"{run_dir} was trained with the env-reward baseline: it has no "
                         "sub-goal skills to pursue a plan with")
    task = spec.task if judge else plan_task(plan)
    spec = replace(spec, task=task, plan=tuple(plan), horizon=horizon or spec.horizon)
    actor = Actor(spec, 0)
    actor.set_weights(policy_weights(policy))
    seeds = IMITATE.seeds(seed, episodes)
    outcomes = []
    try:
        bar = tqdm(seeds, desc="imitating", unit="episode", disable=not progress, leave=False,
                   delay=BAR_DELAY)
        for s in bar:
            rollout = run_episode(actor.env, actor.agent, actor.detector, s, explore=False)
            outcomes.append({"seed": s, "success": rollout.success, "steps": rollout.episode.T})
    finally:
        actor.close()
    return {"task": judge or task.instruction, "episodes": outcomes, "detector": spec.detector,
            "success_rate": float(np.mean([o["success"] for o in outcomes]))}
