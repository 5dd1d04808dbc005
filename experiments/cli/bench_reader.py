"""``langstack bench reader``: the video reader's throughput (frames/s)."""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from experiments.cli.util import UsageError, add_json_flag, emit, positive_int, say

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # only effective before torch is imported

HELP = "video reader throughput on a foreign demo's frames (frames/s)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``langstack bench reader``."""
    parser.add_argument("--reader", type=Path, default=None,
                        help="video reader directory (default: the cached default reader, "
                             "built on first use, ~8-14 min)")
    parser.add_argument("--frames", type=positive_int, default=480,
                        help="frames read after the warm-up (480: two videos' worth)")
    parser.add_argument("--threads", type=positive_int, default=2, help="torch threads (2)")
    add_json_flag(parser)


def run(args: argparse.Namespace) -> int:
    """Measure and print frames/s."""
    from experiments.bench.reader import measure
    from perception.reader import is_reader

    if args.reader is not None and not is_reader(args.reader):
        raise UsageError(f"--reader: {args.reader} holds no video reader (no reader.json; "
                         "a reader is built by `langstack imitate VIDEO --detector reader`)")
    reader = args.reader
    if reader is None:
        from experiments.imitation.reader_build import ensure_reader

        reader = ensure_reader(progress=not args.json, say=say)
    result = measure(reader, args.frames, args.threads, say=say)
    h, w = result["frame_hw"]
    human = (f"reader: {result['frames_per_s']:.0f} frames/s ({h}x{w} frames, "
             f"{result['threads']} threads, scorer {result['scorer']} at "
             f"{result['scorer_input_size']}px)")
    emit(result, args.json, human)
    return 0
