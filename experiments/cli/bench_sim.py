"""``langstack bench sim``: our world side by side with panda-gym's PandaStack-v3."""
from __future__ import annotations

import argparse
from typing import Any

from experiments.bench.sim import compare, panda_gym_available
from experiments.cli.util import UsageError, add_json_flag, emit, finite_float, positive_int

HELP = "physics, primitives and rendering vs panda-gym's PandaStack-v3"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``langstack bench sim``."""
    p.add_argument("--seconds", type=finite_float, default=5.0,
                   help="wall time per measurement (default 5)")
    p.add_argument("--episodes", type=positive_int, default=6,
                   help="episodes of our env for the primitive measurement (default 6)")
    add_json_flag(p)


def run(args: argparse.Namespace) -> int:
    """Measure both worlds and print the table (and the JSON object with ``--json``)."""
    if args.seconds <= 0:
        raise UsageError("--seconds must be > 0")
    if not panda_gym_available():
        raise UsageError("panda-gym is not installed: pip install -e '.[dev]'")
    result = compare(args.seconds, args.episodes)
    emit(result, args.json, table(result))
    return 0


def table(result: dict[str, Any]) -> str:
    """The human-readable side-by-side table of :func:`experiments.bench.sim.compare`."""
    ours, theirs, r = result["ours"], result["panda_gym"], result["ratios"]
    return "\n".join([
        f"{'':28s}{'langstack':>12s}{'panda-gym':>12s}",
        f"{'bare physics steps/s':28s}{ours['bare_physics_steps_per_s']:12.0f}"
        f"{theirs['bare_physics_steps_per_s']:12.0f}",
        f"{'physics steps/s in env':28s}{ours['env_physics_steps_per_s']:12.0f}"
        f"{theirs['env_physics_steps_per_s']:12.0f}",
        f"{'  same steps, physics only':28s}{ours['stepping_only_physics_steps_per_s']:12.0f}",
        f"{'env steps/s':28s}{ours['primitive_actions_per_s']:12.1f}"
        f"{theirs['env_steps_per_s']:12.1f}",
        f"{'render fps (128x128)':28s}{ours['render_fps']:12.1f}{theirs['render_fps']:12.1f}",
        f"render fps ratio vs panda-gym: {r['render_fps_vs_panda_gym']:.2f}   "
        f"physics overhead (physics only / in env): {r['physics_overhead']:.3f}",
    ])
