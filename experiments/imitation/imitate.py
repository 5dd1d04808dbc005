"""One-shot imitation from a video: read the sub-goals the video shows, then pursue them.

    frames   = read the video (subsampled to at most max_frames)
    scores   = CLIP cosine of every view of every frame with every caption (experiments.imitation.watch)
    events   = captions in time order of their first stable appearance: score >= gamma on
               ``debounce`` consecutive frames
    plan     = the events in the planner's format (below)
    success  = the run's policy pursues the plan in a fresh scene; judged by the ground truth

**Plan format.** The planner writes "stack X on Y" as [grasp X, X on Y] and a grasp task as
[grasp X]. A stack can only be made by carrying its top cube, so each on-top event is
preceded by the grasp of its top cube (added when the video did not show it), and a grasp
event is kept only when the next event stacks that cube or when it is the video's last event
(the demonstrator ends holding it); any other grasp led to nothing the plan can name.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from tqdm import tqdm

from experiments.imitation.frames import BAR_DELAY, VideoFrames, read_video
from experiments.imitation.watch import frame_scores, to_views
from perception.captions import CAPTIONS, GRASP_RE, ON_TOP_RE, caption_to_predicate, grasp_caption
from planner import goal_of_plan
from sim.seeds import IMITATE
from sim.tasks import Task, grasp_task, stack_task


@dataclass(frozen=True)
class WatchConfig:
    """How a video is read into a plan."""

    max_frames: int = 240
    """Longer videos are subsampled evenly to this many frames."""
    debounce: int = 3
    """A caption appears when its score is >= gamma on this many consecutive frames."""
    views: int | None = None
    """Views side by side in a frame (None: 2 if the frame is twice as wide as high, else 1)."""

    def __post_init__(self) -> None:
        if self.max_frames < 1 or self.debounce < 1:
            raise ValueError("max_frames and debounce must be >= 1")


@dataclass(frozen=True)
class Event:
    """A caption's first stable appearance."""

    caption: str
    frame: int
    """Index in the scored (subsampled) frames."""
    score: float
    """Mean score over the debounce window."""


@dataclass
class VideoPlan:
    """What was read off a video."""

    plan: list[str]
    events: list[Event] = field(default_factory=list)
    frames_scored: int = 0
    frames_total: int = 0
    views: int = 1
    gamma: float = 0.0
    best_score: float = float("-inf")
    """Highest frame score of any caption (tells how far a video without events fell short)."""


def first_appearances(scores: np.ndarray, gamma: float, debounce: int,
                      captions: Sequence[str] = CAPTIONS) -> list[Event]:
    """Events from (T, K) frame scores, in time order (ties: grasps first, then vocabulary)."""
    on = scores >= gamma  # (T, K)
    events = []
    for k, caption in enumerate(captions):
        t = _first_run(on[:, k], debounce)
        if t is not None:
            events.append(Event(caption, t, float(scores[t:t + debounce, k].mean())))
    rank = {c: (0 if GRASP_RE.match(c) else 1, i) for i, c in enumerate(captions)}
    return sorted(events, key=lambda e: (e.frame, rank[e.caption]))


def _first_run(on: np.ndarray, length: int) -> int | None:
    """Start of the first run of ``length`` True values, or None."""
    if len(on) < length:
        return None
    window = np.convolve(on.astype(int), np.ones(length, int), mode="valid")  # (T - length + 1,)
    hits = np.flatnonzero(window == length)
    return int(hits[0]) if len(hits) else None


def plan_from_events(captions: Sequence[str]) -> list[str]:
    """The planner-format plan of captions in order of appearance (see the module docstring)."""
    plan: list[str] = []
    for i, caption in enumerate(captions):
        if m := ON_TOP_RE.match(caption):
            grasp = grasp_caption(m.group(1))
            if not plan or plan[-1] != grasp:
                plan.append(grasp)
            plan.append(caption)
        elif m := GRASP_RE.match(caption):
            nxt = ON_TOP_RE.match(captions[i + 1]) if i + 1 < len(captions) else None
            if i + 1 == len(captions) or (nxt and nxt.group(1) == m.group(1)):
                plan.append(caption)
    return plan


# ---------------------------------------------------------------------------- reading a video
def read_plan(video: str | Path | VideoFrames, detector: Any, cfg: WatchConfig | None = None,
              progress: bool = True) -> VideoPlan:
    """The plan a video (a path, or frames from :func:`experiments.imitation.frames.read_video`) shows,
    read by ``detector`` (a ``perception.Detector``)."""
    cfg = cfg or WatchConfig()
    frames = video if isinstance(video, VideoFrames) else read_video(video, cfg.max_frames,
                                                                     progress=progress)
    views = to_views(frames.frames, cfg.views)  # (N, V, S, S, 3)
    scores = frame_scores(detector, views, progress=progress)  # (N, K)
    events = first_appearances(scores, detector.gamma, cfg.debounce)
    return VideoPlan(plan_from_events([e.caption for e in events]), events, len(views),
                     frames.total, views.shape[1], detector.gamma, float(scores.max()))


def events_from_predicates(predicates: Sequence[dict[str, bool]], debounce: int = 1) -> list[Event]:
    """Events of a ground-truth timeline (a rendered demo's): what a perfect detector reads."""
    truth = np.array([[p[caption_to_predicate(c)] for c in CAPTIONS] for p in predicates],
                     dtype=np.float32)  # (T, K) of 0/1
    return first_appearances(truth, 0.5, debounce)


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
