"""The video reader's throughput in frames/s (``langstack bench reader``).

A frame is one frame of a foreign demonstration video (one camera, the style's own frame
size, e.g. 256 x 343): reading it means finding the cubes (the localiser), cutting and
scoring the crop around them (the CLIP scorer) and the tracks' evidence
(:meth:`perception.reader.VideoReader.read`), everything ``langstack imitate`` does between
decoding the video file and decoding the plan. The frames are a real foreign demo's
(``reproduce video``'s ``val`` split, #0), repeated to the requested count; the first pass
over them is a warm-up.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable


def demo_frames(count: int) -> Any:
    """``(count, 1, H, W, 3)`` frames of foreign demo ``val`` #0, repeated as needed."""
    import numpy as np

    from sim.demo import foreign_demo_config, render_demo
    from sim.styles import TRAIN  # the val demos' families: the training ones

    demo = render_demo("stack all three objects", foreign_demo_config("val", TRAIN, 0))
    reps = -(-count // len(demo.frames))
    return np.concatenate([demo.frames] * reps)[:count]


def measure(reader_dir: str | Path, frames: int, threads: int,
            say: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Frames/s of :meth:`VideoReader.read` over ``frames`` demo frames with ``threads``
    torch threads, read by the reader saved in ``reader_dir``."""
    if frames < 1 or threads < 1:
        raise ValueError(f"frames and threads must be >= 1, got {frames} and {threads}")
    import torch

    from perception.reader import VideoReader

    torch.set_num_threads(threads)
    reader = VideoReader.load(reader_dir)
    if say:
        say(f"reader: {reader_dir}")
    views = demo_frames(frames)
    reader.read(views[:min(len(views), 64)])  # warm-up
    t0 = time.perf_counter()
    reader.read(views)
    seconds = time.perf_counter() - t0
    return {"frames_per_s": round(frames / seconds, 1), "frames": frames,
            "seconds": round(seconds, 3), "frame_hw": list(views.shape[2:4]),
            "threads": torch.get_num_threads(), "reader": str(reader_dir),
            "scorer": reader.spec.name, "scorer_input_size": reader.spec.image_size}
