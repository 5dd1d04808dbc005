"""Demo videos: the scripted expert doing a task, written as an mp4/gif (see ``sim.demo``)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from experiments.imitation.imitate import plan_from_predicates
from experiments.collect_infer.video import tile, write_video
from sim.demo import DemoConfig, render_demo
from sim.tasks import Task

FPS = 8
"""Playback rate: ~10 rendered frames per pick or place, so a primitive lasts ~1.3 s."""


def write_demo_video(task: Task | str, out: Path, cfg: DemoConfig) -> dict[str, Any]:
    """Render the expert solving ``task`` (a Task, or one of sim's own instructions) to
    ``out``; returns what was written.

    ``shown_plan`` is the plan the video really shows (its ground truth, read the way the
    imitator reads detections), for judging an imitator's plan; the imitator never sees it.
    """
    demo = render_demo(task, cfg)
    instruction = task.instruction if isinstance(task, Task) else task
    write_video(out, [tile(f) for f in demo.frames], fps=FPS)  # (H, n_cams * W, 3) each
    shown = plan_from_predicates(demo.predicates).plan
    n, cams, h, w, _ = demo.frames.shape
    return {"video": str(out), "instruction": instruction, "frames": n,
            "frame_size": [h, cams * w], "views": cams, "shift": cfg.shift,
            "robot": cfg.robot if cfg.shift else "panda", "seed": cfg.seed,
            "expert_success": demo.success, "expert_steps": demo.steps, "shown_plan": shown}
