"""Batched detector scoring throughput in frames/s (``langstack bench perception``).

A frame is one simulator instant: both 128x128 camera views. Scoring a frame means
embedding both views and computing the 9 caption scores (``Detector.scores``). Frames are
random uint8 images (content does not change the compute); the first batch is a warm-up.
"""
from __future__ import annotations

import time
from typing import Any, Callable


def measure(detector: str | None, batch: int, frames: int, threads: int, image_size: int,
            cameras: int, say: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Frames/s of scoring ``frames`` frames in batches of ``batch`` with ``threads`` threads.

    ``detector`` is a checkpoint directory, or None for the cached default (built on first
    use; ``say`` reports which detector). Raises ValueError for a count < 1 and
    FileNotFoundError if ``detector`` holds no detector.
    """
    counts = {"batch": batch, "frames": frames, "threads": threads, "image_size": image_size,
              "cameras": cameras}
    for name, value in counts.items():
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    import numpy as np
    import torch

    from perception.captions import CAPTIONS
    from perception.loader import load_detector

    torch.set_num_threads(threads)
    det = load_detector(detector, say=say)
    det.batch_size = batch * cameras
    rng = np.random.default_rng(0)
    shape = (batch, cameras, image_size, image_size, 3)
    batches = [rng.integers(0, 256, shape, dtype=np.uint8) for _ in range(2)]
    det.scores(batches[0], CAPTIONS)  # warm-up (allocations, text embeddings)
    n_batches = max(1, -(-frames // batch))
    t0 = time.perf_counter()
    for i in range(n_batches):
        det.scores(batches[i % 2], CAPTIONS)
    seconds = time.perf_counter() - t0
    scored = n_batches * batch
    return {
        "frames_per_s": round(scored / seconds, 1),
        "views_per_s": round(scored * cameras / seconds, 1),
        "batch": batch,
        "frames": scored,
        "seconds": round(seconds, 3),
        "image_size": image_size,
        "cameras": cameras,
        "model": det.spec.name,
        "model_input_size": det.spec.image_size,
        "threads": torch.get_num_threads(),
        "device": det.device,
    }
