"""``langstack bench perception``: batched detector scoring throughput (frames/s)."""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from experiments.bench.perception import measure
from experiments.cli.util import add_json_flag, emit, positive_int, say

# see experiments/cli/perception.py: only effective before torch is imported
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

HELP = "batched CLIP scoring throughput (frames/s)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``langstack bench perception``."""
    parser.add_argument("--detector", type=Path, default=None,
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
    if args.detector is not None:  # a broken checkpoint is refused before torch loads
        from experiments.collect_infer.prepare import check_detector_dir

        check_detector_dir(args.detector)
    detector = str(args.detector) if args.detector else None
    result = measure(detector, args.batch, args.frames, args.threads, args.image_size,
                     args.cameras, say=say)
    size = result["image_size"]
    human = (f"perception: {result['frames_per_s']:.0f} frames/s ({result['cameras']} x "
             f"{size}x{size} views each, batch {result['batch']}, "
             f"{result['threads']} threads, {result['model']} at "
             f"{result['model_input_size']}px)")
    emit(result, args.json, human)
    return 0
