"""``langstack reproduce all``: every figure from nothing, and the results page."""
from __future__ import annotations

import argparse
from pathlib import Path

from experiments.cli.util import (
    UsageError, add_json_flag, check_out_dir, emit, finite_float, positive_int, say,
)
from experiments.paper.everything import STEPS

OWN_OUTPUTS = frozenset(STEPS) | {"results.md", "all.json", "wall.json", "started.json"}
"""What the command writes into --out (a re-run reuses or redoes them)."""


def register_experiment(rsub: argparse._SubParsersAction) -> None:
    """Add ``all`` to the ``reproduce`` sub-commands."""
    p = rsub.add_parser(
        "all", help="every figure (sparseness, Fig. 4/5, 7, 10, scheduling, video) and the "
                    "results page",
        description="Runs, in order, into OUT/<step>/: sparsity (the random policy's env steps "
                    "per success, measured directly for Grasp and Stack beside the chain "
                    "estimate), exploration (Fig. 4 and 5), reuse (Fig. 7), fig10 (detector vs "
                    "its training data), scheduling (one six-stack multi-skill run per seed, "
                    "then three-cube instructions) and video (shifted demo videos, executed by "
                    "the exploration's Triple Stack run of seed 0, and foreign-style videos per "
                    "style family, plans only). Then OUT/results.md: each "
                    "figure's table, plot, the command, date, commit and wall time, and the "
                    "deviations from the paper. Finished Collect & Infer runs are reused and "
                    "interrupted ones resumed: re-run the same command after an interruption. "
                    "With the full budgets this takes many hours on 2 cores.")
    p.add_argument("--seeds", type=positive_int, default=5,
                   help="seeds of every experiment made of runs (default 5)")
    p.add_argument("--out", type=Path, default=Path("runs/reproduce/all"),
                   help="output directory (default runs/reproduce/all): new, empty or an "
                        "earlier output of this command")
    p.add_argument("--detector", choices=("clip", "oracle"), default="clip",
                   help="the agents' detector (default clip)")
    p.add_argument("--budget-scale", type=finite_float, default=1.0,
                   help="multiply every env-step budget (e.g. 0.05 for a smoke run; the page "
                        "then says it is not the experiment)")
    p.add_argument("--steps", default=",".join(STEPS),
                   help=f"comma-separated subset of {', '.join(STEPS)} (default all)")
    p.add_argument("--sparsity-samples", type=positive_int, default=200,
                   help="Monte Carlo trials per stage of the sparseness estimate (default 200)")
    p.add_argument("--publish", type=Path, metavar="DOCS",
                   help="also copy the page and its plots to DOCS/results.md and DOCS/results/")
    add_json_flag(p)
    p.set_defaults(func=run_all_cmd)


def run_all_cmd(args: argparse.Namespace) -> int:
    from experiments.paper.everything import AllConfig, run_all
    from experiments.paper.results_page import publish

    steps = tuple(s.strip() for s in args.steps.split(",") if s.strip())
    cfg = AllConfig(seeds=args.seeds, detector=args.detector, budget_scale=args.budget_scale,
                    sparsity_samples=args.sparsity_samples, steps=steps)
    try:
        cfg.check()
    except ValueError as exc:
        raise UsageError(f"--{str(exc).replace('_', '-')}") from None
    check_out_dir(args.out, OWN_OUTPUTS)
    if args.publish is not None:
        from experiments.collect_infer.rundir import check_creatable

        check_creatable(args.publish, "--publish")
    summary = run_all(cfg, args.out, progress=not args.json, say=say)
    if args.publish is not None:
        summary["published"] = str(publish(args.out, args.publish))
    hours = summary["wall_s_total"] / 3600
    emit(summary, args.json, f"wrote {summary['page']} (wall time {hours:.2f} h)")
    return 0
