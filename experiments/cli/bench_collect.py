"""``langstack bench collect``: Collect & Infer collection throughput, per mode and actor count."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from experiments.bench.collect import DETECTORS, measure
from experiments.bench.stages import STAGES
from experiments.cli.util import (
    UsageError, add_json_flag, add_ray_address, emit, positive_int, ray_address,
)

HELP = ("Collect & Infer collection env steps/s (frames + detector, state-only), 1 vs N actors, "
        "with the stage profile")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``langstack bench collect``."""
    p.add_argument("--actors", type=positive_int, nargs="+", default=[1, 2],
                   help="actor counts to compare (default: 1 2)")
    p.add_argument("--episodes", type=positive_int, default=24,
                   help="episodes per measurement (default 24)")
    p.add_argument("--detector", choices=(*DETECTORS, "both"), default="both",
                   help="clip: frames + detector (both cameras rendered and embedded, as in "
                        "training); oracle: state-only (nothing rendered); both (default)")
    p.add_argument("--against", type=Path, metavar="CHECKOUT",
                   help="also measure another langstack checkout (e.g. `git worktree add "
                        "/tmp/before <commit>`) with 1 actor in the same run, and report the "
                        "ratio")
    add_ray_address(p)
    add_json_flag(p)


def run(args: argparse.Namespace) -> int:
    """Measure and print env steps/s per mode and actor count, the profile and the ratios."""
    if 1 not in args.actors:
        raise UsageError("--actors must include 1 (the reference)")
    detectors = DETECTORS if args.detector == "both" else (args.detector,)
    address = ray_address(args.ray_address, max(args.actors))
    result = measure(args.actors, args.episodes, detectors, args.against,
                     ray_address=address)
    emit(result, args.json, _human(result))
    return 0


def _human(result: dict[str, Any]) -> str:
    lines = []
    for name, mode in result["modes"].items():
        lines.append(f"{name}:")
        for n, r in mode["env_steps_per_s"].items():
            lines.append(f"  {n} actor(s): {r:6.1f} env steps/s  ({mode['speedup_vs_1'][n]:.2f}x"
                         f" vs 1 actor, on {mode['nodes'][n]} node(s); "
                         f"{mode['cores_busy'][n]:.2f} CPU cores busy, "
                         f"{mode['env_steps_per_cpu_s'][n]:.1f} env steps per CPU second)")
        if "against" in mode:
            a = mode["against"]
            lines.append(f"  {a['checkout']}: {a['env_steps_per_s']:6.1f} env steps/s with 1 "
                         f"actor; this code {a['ratio']:.2f}x")
        shares = mode["stage_share"]
        lines.append(f"  physics steps per env step: {mode['physics_steps_per_env_step']:.1f}; "
                     "time: " + ", ".join(f"{s} {shares[s]:.0%}" for s in (*STAGES, "other")))
    floor = result["floor"]
    lines.append(f"floor: bare physics {floor['bare_physics_steps_per_s']:.0f} steps/s = "
                 f"{floor['env_steps_per_s_physics_only']:.1f} env steps/s if physics were all")
    return "\n".join(lines)
