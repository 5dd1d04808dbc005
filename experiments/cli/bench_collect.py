"""``langstack bench collect``: Collect & Infer collection throughput, 1 vs N actors."""
from __future__ import annotations

import argparse

from experiments.bench.collect import DETECTORS, measure
from experiments.cli.util import UsageError, add_json_flag, emit, positive_int

HELP = "Collect & Infer collection env steps/s, 1 vs N actors"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``langstack bench collect``."""
    p.add_argument("--actors", type=positive_int, nargs="+", default=[1, 2],
                   help="actor counts to compare (default: 1 2)")
    p.add_argument("--episodes", type=positive_int, default=24,
                   help="episodes per measurement (default 24)")
    p.add_argument("--detector", choices=DETECTORS, default="clip",
                   help="clip renders both cameras and embeds them, as in training (default)")
    add_json_flag(p)


def run(args: argparse.Namespace) -> int:
    """Measure each actor count and print env steps/s with the speed-up over 1 actor."""
    if 1 not in args.actors:
        raise UsageError("--actors must include 1 (the reference)")
    result = measure(args.actors, args.episodes, args.detector)
    speedup = result["speedup_vs_1"]
    human = "\n".join(f"{n} actor(s): {r:6.1f} env steps/s  ({speedup[n]:.2f}x)"
                      for n, r in result["env_steps_per_s"].items())
    emit(result, args.json, human)
    return 0
