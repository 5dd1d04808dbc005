"""``langstack bench world``: is the world the same for the learner after a change to the sim?

Runs :mod:`experiments.bench.world_probe` on this code and (``against``) on another langstack
checkout, each in a subprocess with its own code first on the path, on the same scenes and
random actions, and sets every rate beside the other with its Wilson 95% interval.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from experiments.bench.collect import check_checkout
from experiments.collect_infer.stats import wilson

PROBE = Path(__file__).with_name("world_probe.py")
HERE = Path(__file__).resolve().parents[2]
"""This checkout's root (the folder holding sim/ and experiments/)."""


def run_probe(checkout: Path, n: int) -> dict[str, Any]:
    """The probe's counts on ``n`` scenes, with ``checkout``'s code."""
    env = {**os.environ, "PYTHONPATH": str(checkout.resolve())}
    proc = subprocess.run([sys.executable, str(PROBE), str(n)], cwd=checkout, env=env,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"world probe in {checkout} failed (exit {proc.returncode}): {tail}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def rates(counts: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """Every measured proportion as (hits, trials), by name."""
    n = counts["n"]
    out = {f"expert success: {task}": (c["successes"], n) for task, c in counts["expert"].items()}
    out["tower still standing after 2 s"] = (counts["stable"]["standing"],
                                             counts["stable"]["built"])
    out.update({f"random stage: {s}": (h, t) for s, (h, t) in counts["stages"].items()})
    g = counts["grasp_random"]
    out["random policy: Grasp red successes per env step"] = (g["successes"], g["steps"])
    return out


def compare(n: int, against: Path | None) -> dict[str, Any]:
    """This code's rates (and the other checkout's) with intervals; ``within``: this rate lies
    inside the other's 95% interval."""
    if n < 1:
        raise ValueError(f"--scenes must be >= 1, got {n}")
    if against is not None:
        check_checkout(against)
    mine = rates(run_probe(HERE, n))
    theirs = rates(run_probe(against, n)) if against is not None else {}
    rows = []
    for name, (hits, trials) in mine.items():
        row: dict[str, Any] = {"name": name, "hits": hits, "trials": trials,
                               "rate": hits / trials if trials else None,
                               "interval": wilson(hits, trials)}
        if name in theirs:
            oh, ot = theirs[name]
            lo, hi = wilson(oh, ot)
            row["against"] = {"hits": oh, "trials": ot, "rate": oh / ot if ot else None,
                              "interval": (lo, hi)}
            row["within"] = row["rate"] is not None and lo <= row["rate"] <= hi
        rows.append(row)
    return {"scenes": n, "against": str(against) if against else None, "rows": rows}
