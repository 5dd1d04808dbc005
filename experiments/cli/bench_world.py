"""``langstack bench world``: the world as the learner sees it, here and in another checkout."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from experiments.bench.world import compare
from experiments.cli.util import add_json_flag, emit, positive_int

HELP = ("expert success, stack stability and the random policy's stage probabilities on fixed "
        "scenes, beside another checkout's (after a change to the physics)")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``langstack bench world``."""
    p.add_argument("--scenes", type=positive_int, default=300,
                   help="scenes per measurement (default 300)")
    p.add_argument("--against", type=Path, metavar="CHECKOUT",
                   help="another langstack checkout (e.g. `git worktree add /tmp/before "
                        "<commit>`) measured on the same scenes and random actions")
    add_json_flag(p)


def run(args: argparse.Namespace) -> int:
    """Measure and print each rate with its interval (and the other checkout's)."""
    result = compare(args.scenes, args.against)
    emit(result, args.json, _human(result))
    return 0


def _human(result: dict[str, Any]) -> str:
    def cell(r: dict[str, Any]) -> str:
        lo, hi = r["interval"]
        rate = "n/a" if r["rate"] is None else f"{r['rate']:.3f}"
        return f"{r['hits']}/{r['trials']} = {rate} [{lo:.3f}, {hi:.3f}]"

    lines = [f"{result['scenes']} scenes; rates with Wilson 95% intervals"
             + (f"; against {result['against']}" if result["against"] else "")]
    for row in result["rows"]:
        line = f"{row['name']}: {cell(row)}"
        if "against" in row:
            verdict = "within" if row["within"] else "OUTSIDE"
            line += f"  | against: {cell(row['against'])}  ({verdict} its interval)"
        lines.append(line)
    return "\n".join(lines)
