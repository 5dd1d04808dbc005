"""What a run needs before its loop: the detector it pins, the planner's sub-goals and their
goal embeddings, the action and position bounds of its policy, and its weights for actors."""
from __future__ import annotations

import functools
import hashlib
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from experiments.collect_infer.config import TrainConfig
from experiments.collect_infer.rundir import RunDir


def pin_detector(cfg: TrainConfig, run: RunDir, resume: bool) -> TrainConfig:
    """``cfg`` with the detector checkpoint the run uses written out, never None.

    The goal tokens are the detector's text embeddings, so a run keeps the detector it was
    made with: a resume takes the stored path (a different ``--detector-path`` is an error),
    and a new run records the path of today's default, which a later default (another
    build version) does not change. Runs recorded without a path use today's default.
    """
    stored = None
    if resume and run.config_path.exists():
        stored = run.read_config()["train"].get("detector_path")
    if stored and cfg.detector_path and Path(stored).resolve() != Path(cfg.detector_path).resolve():
        raise ValueError(f"{run.root} was trained with the detector at {stored}; its policy's "
                         f"goal tokens come from that detector, so it cannot resume with "
                         f"{cfg.detector_path}")
    if stored or cfg.detector_path:
        return replace(cfg, detector_path=stored or cfg.detector_path)
    from perception.loader import ensure_default_detector

    return replace(cfg, detector_path=str(ensure_default_detector()))  # built on first use


def plan_and_goals(cfg: TrainConfig) -> tuple[list[str], dict[str, np.ndarray], str | None]:
    """Sub-goals from the planner and goal embeddings from the CLIP text encoder."""
    from perception import load_detector
    from perception.captions import CAPTIONS

    detector = load_detector(cfg.detector_path, device="cpu", build_if_missing=True)
    text = detector.text_embeddings(list(CAPTIONS))
    if cfg.agent == "baseline":  # one fixed goal vector: the task itself, no sub-goals
        digest = hashlib.sha256(cfg.task.encode()).digest()
        rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
        goal = rng.normal(size=text.shape[1]).astype(np.float32)
        return [cfg.task], {cfg.task: goal / np.linalg.norm(goal)}, cfg.detector_path
    plan = cached_planner(cfg.planner).plan(cfg.task)
    # Goals are the captions' text embeddings centred over the vocabulary: what the captions
    # share ("the ... object") says nothing about which sub-goal is meant.
    goals = text - text.mean(axis=0, keepdims=True)
    # actors load the same detector: the user's path, or (None) the cached default just built
    return plan, dict(zip(CAPTIONS, goals.astype(np.float32))), cfg.detector_path


def more_tasks(cfg: TrainConfig) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(instruction, plan) of every further instruction of a multi-skill run."""
    return tuple((task, tuple(cached_planner(cfg.planner).plan(task))) for task in cfg.also)


@functools.lru_cache(maxsize=None)
def cached_planner(kind: str):
    """One planner of each kind per process (FLAN-T5 weights are loaded once, not per task)."""
    from planner import make_planner

    return make_planner(kind)


def action_bounds() -> tuple[tuple[float, float], tuple[float, float]]:
    """(x, y) corners of the action box: the spawn rectangle plus the arm's reach margin."""
    from sim import Workspace

    ws = Workspace()
    return corners(ws.action_low, ws.action_high)


def spawn_bounds() -> tuple[tuple[float, float], tuple[float, float]]:
    """(x, y) corners of the rectangle the cubes spawn in (the policy's position scale)."""
    from sim import Workspace

    ws = Workspace()
    return corners(ws.low, ws.high)


def corners(low: Any, high: Any) -> tuple[tuple[float, float], tuple[float, float]]:
    """The (x, y) corners of a box given by two points of 2 or more coordinates."""
    return (float(low[0]), float(low[1])), (float(high[0]), float(high[1]))


def policy_weights(policy) -> dict[str, np.ndarray]:
    """A copy of the policy's parameters as numpy arrays (what actors receive)."""
    return {k: v.detach().cpu().numpy().copy() for k, v in policy.state_dict().items()}
