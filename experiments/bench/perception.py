"""``langstack bench perception``: batched detector scoring throughput (frames/s).

A frame is one simulator instant: both 128x128 camera views. Scoring a frame means
embedding both views and computing the 9 caption scores (``Detector.scores``). Frames are
random uint8 images (content does not change the compute); the first batch is a warm-up.
"""
from __future__ import annotations

import argparse
import os
import time
from typing import Any

from experiments.cli.util import UsageError, add_json_flag, emit, positive_int, say

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see experiments/commands/perception.py


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``langstack bench perception``."""
    parser.add_argument("--detector", default=None,
                        help="detector checkpoint directory (default: the cached default, "
                             "built on first use)")
    parser.add_argument("--batch", type=positive_int, default=256, help="frames per batch (256)")
    parser.add_argument("--frames", type=positive_int, default=2048,
                        help="frames scored after the warm-up batch (2048)")
    parser.add_argument("--threads", type=positive_int, default=2, help="torch threads (2)")
    parser.add_argument("--image-size", type=positive_int, default=128,
                        help="camera image side in pixels (128, as the simulator renders)")
    parser.add_argument("--cameras", type=positive_int, default=2, help="views per frame (2)")
    add_json_flag(parser)


def run(args: argparse.Namespace) -> int:
    """Measure and print frames/s."""
    import numpy as np
    import torch

    from perception.captions import CAPTIONS
    from perception.loader import load_detector

    torch.set_num_threads(args.threads)
    try:
        det = load_detector(args.detector, say=say)
    except (FileNotFoundError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    det.batch_size = args.batch * args.cameras
    rng = np.random.default_rng(0)
    shape = (args.batch, args.cameras, args.image_size, args.image_size, 3)
    batches = [rng.integers(0, 256, shape, dtype=np.uint8) for _ in range(2)]
    det.scores(batches[0], CAPTIONS)  # warm-up (allocations, text embeddings)
    n_batches = max(1, -(-args.frames // args.batch))
    t0 = time.perf_counter()
    for i in range(n_batches):
        det.scores(batches[i % 2], CAPTIONS)
    seconds = time.perf_counter() - t0
    frames = n_batches * args.batch
    result: dict[str, Any] = {
        "frames_per_s": round(frames / seconds, 1),
        "views_per_s": round(frames * args.cameras / seconds, 1),
        "batch": args.batch,
        "frames": frames,
        "seconds": round(seconds, 3),
        "image_size": args.image_size,
        "cameras": args.cameras,
        "model": det.spec.name,
        "model_input_size": det.spec.image_size,
        "threads": torch.get_num_threads(),
        "device": det.device,
    }
    human = (f"perception: {result['frames_per_s']:.0f} frames/s ({args.cameras} x "
             f"{args.image_size}x{args.image_size} views each, batch {args.batch}, "
             f"{result['threads']} threads, {det.spec.name} at {det.spec.image_size}px)")
    emit(result, args.json, human)
    return 0
