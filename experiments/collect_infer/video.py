"""Writing frames to mp4 (ffmpeg via imageio-ffmpeg) or gif, and recording greedy episodes."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from experiments.collect_infer.actors import ActorSpec


VIDEO_SUFFIXES = (".mp4", ".gif")


def check_video_path(path: str | Path) -> Path:
    """Validate an output video path before any work is done."""
    out = Path(path)
    if out.suffix.lower() not in VIDEO_SUFFIXES:
        raise ValueError(f"video must end in .mp4 or .gif, got {str(out)!r}")
    if out.parent != Path("") and not out.parent.exists():
        raise ValueError(f"directory does not exist: {str(out.parent)!r}")
    return out


def tile(images: np.ndarray) -> np.ndarray:
    """(n_cams, H, W, 3) camera images side by side -> (H, n_cams * W, 3)."""
    return np.concatenate(list(images), axis=1)


def write_video(path: Path, frames: Sequence[np.ndarray], fps: int = 12) -> None:
    """Write RGB frames (H, W, 3) uint8 to ``path`` (.mp4 or .gif)."""
    import imageio.v2 as imageio

    if path.suffix.lower() == ".gif":
        imageio.mimsave(path, list(frames), duration=1000.0 / fps, loop=0)  # milliseconds
        return
    with imageio.get_writer(path, fps=fps, codec="libx264", quality=7,
                            macro_block_size=8) as writer:
        for frame in frames:
            writer.append_data(frame)


def record_video(spec: ActorSpec, policy, path: Path, seeds: list[int],
                 detector: Any = None) -> Path:
    """Greedy episodes from both cameras, with mid-motion frames, to an mp4.
    ``detector``: one already loaded for ``spec`` (default: load it here)."""
    from experiments.collect_infer.agent import SubgoalAgent
    from experiments.collect_infer.detectors import make_detector
    from experiments.collect_infer.collect import run_episode
    from sim import EnvConfig, make_env

    env = make_env(spec.task, EnvConfig(horizon=spec.horizon, render=True, motion_frames=6))
    ws = env.config.workspace
    agent = SubgoalAgent(spec.plan, spec.goal_embeddings, policy, ws.low, ws.high, 0.0,
                         set_down_greedy=spec.set_down_greedy)
    if detector is None:
        detector = make_detector(spec.detector, spec.detector_path)
    frames = []
    for s in seeds:
        rollout = run_episode(env, agent, detector, s, explore=False, record=True)
        frames += [tile(f) for f in rollout.frames] + [tile(rollout.frames[-1])] * 6
    env.close()
    write_video(path, frames)
    return path
