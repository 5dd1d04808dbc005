"""What a run needs before its loop: the detector it pins, the planner's sub-goals and their
goal embeddings, the action and position bounds of its policy, and its weights for actors."""
from __future__ import annotations

import functools
import hashlib
import json
import struct
import sys
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


def check_inputs(cfg: TrainConfig) -> None:
    """Everything a run needs that can be checked before it starts: the detector checkpoint
    (or the weights the environment names for the default one) and the planner's plans.

    Cheap (no detector is loaded or built); raises ValueError, FileNotFoundError or the
    planner's PlannerUnavailable.
    """
    check_detector(cfg)
    check_plans(cfg)


def check_detector(cfg: TrainConfig) -> None:
    """The run's detector checkpoint, or the weights the environment names for the default."""
    if cfg.detector_path is not None:
        check_detector_dir(Path(cfg.detector_path))
    else:
        from perception.factory import find_pretrained

        find_pretrained()  # a malformed LANGSTACK_CLIP_PRETRAINED fails here, not mid-build


def check_plans(cfg: TrainConfig) -> None:
    """The planner plans every instruction of the run (which one "auto" chose is said)."""
    if cfg.agent == "framework":
        plan_tasks(cfg.planner, (cfg.task, *cfg.also))


def check_detector_dir(path: Path) -> None:
    """``path`` holds a detector checkpoint: detector.json (an object) and a well-formed
    model.safetensors (its header read, not its tensors)."""
    from perception.detector import CONFIG_FILE, WEIGHTS_FILE

    if not path.exists():
        raise FileNotFoundError(f"no detector at {path} (no such directory)")
    if not path.is_dir():
        raise NotADirectoryError(f"no detector at {path} (a file, not a directory)")
    for name in (CONFIG_FILE, WEIGHTS_FILE):
        if not (path / name).is_file():
            raise FileNotFoundError(f"no detector at {path} (no {name})")
    try:
        config = json.loads((path / CONFIG_FILE).read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"corrupt {path / CONFIG_FILE}: {exc}") from None
    if not isinstance(config, dict) or not isinstance(config.get("model_name"), str):
        raise ValueError(f"{path / CONFIG_FILE} is not a detector config")
    check_safetensors(path / WEIGHTS_FILE)


def check_safetensors(path: Path) -> None:
    """ValueError unless ``path`` is a complete safetensors file (header and data size)."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        n = struct.unpack("<Q", head)[0] if len(head) == 8 else -1
        if not 0 < n <= size - 8:
            raise ValueError(f"corrupt safetensors file (bad header size): {path}")
        try:
            header = json.loads(f.read(n))
        except (UnicodeDecodeError, json.JSONDecodeError):
            header = None
    if not isinstance(header, dict):
        raise ValueError(f"corrupt safetensors file (bad header): {path}")
    try:
        end = max((int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"),
                  default=0)
    except (TypeError, KeyError, IndexError, ValueError):
        raise ValueError(f"corrupt safetensors file (bad tensor entry): {path}") from None
    if 8 + n + end != size:
        raise ValueError(f"corrupt safetensors file ({size} bytes, header says "
                         f"{8 + n + end}): {path}")


def plan_and_goals(cfg: TrainConfig, plan: list[str] | None = None
                   ) -> tuple[list[str], dict[str, np.ndarray], str | None]:
    """Sub-goals from the planner (or ``plan``, a run's stored one) and goal embeddings from
    the CLIP text encoder."""
    from perception import load_detector
    from perception.captions import CAPTIONS

    detector = load_detector(cfg.detector_path, device="cpu", build_if_missing=True)
    text = detector.text_embeddings(list(CAPTIONS))
    if cfg.agent == "baseline":  # one fixed goal vector: the task itself, no sub-goals
        digest = hashlib.sha256(cfg.task.encode()).digest()
        rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
        goal = rng.normal(size=text.shape[1]).astype(np.float32)
        return [cfg.task], {cfg.task: goal / np.linalg.norm(goal)}, cfg.detector_path
    if plan is None:
        plan = plan_tasks(cfg.planner, (cfg.task,))[0]
        say_planner_choice()
    # Goals are the captions' text embeddings centred over the vocabulary: what the captions
    # share ("the ... object") says nothing about which sub-goal is meant.
    goals = text - text.mean(axis=0, keepdims=True)
    # actors load the same detector: the user's path, or (None) the cached default just built
    return plan, dict(zip(CAPTIONS, goals.astype(np.float32))), cfg.detector_path


def more_tasks(cfg: TrainConfig) -> tuple[tuple[Any, tuple[str, ...]], ...]:
    """(sim Task, plan) of every further instruction of a multi-skill run."""
    from experiments.collect_infer.tasks import task_for

    plans = plan_tasks(cfg.planner, cfg.also)
    return tuple((task_for(text, cfg.planner), tuple(plan)) for text, plan in zip(cfg.also, plans))


_planner_notes: list[str] = []
"""What ``auto`` chose ("planner: ..."): said when a run starts (:func:`say_planner_choice`),
not while its inputs are checked, so that a refusal stays one line."""


def plan_tasks(kind: str, tasks: tuple[str, ...]) -> list[list[str]]:
    """The sub-goals of each task from the planner ``kind`` (PlannerError if one is refused)."""
    return [cached_planner(kind).plan(task) for task in tasks]


def say_planner_choice() -> None:
    """Print (stderr) which planner ``auto`` chose, if not said yet."""
    while _planner_notes:
        print(_planner_notes.pop(0), file=sys.stderr, flush=True)


@functools.lru_cache(maxsize=None)
def cached_planner(kind: str):
    """One planner of each kind per process (FLAN-T5 weights are loaded once, not per task)."""
    from planner import make_planner

    return make_planner(kind, announce=_planner_notes.append)


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
