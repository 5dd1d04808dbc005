"""``langstack reproduce reuse``: the paper's lifelong data reuse experiment (Fig. 7)."""
from __future__ import annotations

import argparse
from experiments.cli.util import (
    UsageError, add_explore_held, add_json_flag, emit, say,
)
from experiments.cli.reproduce import add_run_options, check_run_options
from experiments.paper.grid import protocol_text
from experiments.paper.reuse import EARLIER_STEPS


def register_experiment(rsub: argparse._SubParsersAction) -> None:
    """Add ``reuse`` to the ``reproduce`` sub-commands."""
    e = rsub.add_parser(
        "reuse", help="Fig. 7: env steps to 50%% success with lifelong data reuse vs from scratch",
        description="Per seed, learns Stack red on blue, then blue on green, then green on red in "
                    "sequence; each later task re-scores the stored episodes of the earlier "
                    "ones with the current detector against its own sub-goals and imports the "
                    "steps that reached one (policy weights start fresh each task). The later "
                    "tasks are also learned from scratch. Env steps to 50% greedy success are "
                    "read off each run's learning curve (budget 10k env steps per run, early "
                    "stop at 0.95; the runs whose episodes later tasks import go on to "
                    f"--earlier-steps; {protocol_text()}). Runs go to "
                    "OUT/runs/<task>__{reuse,scratch}__<seed>/; finished runs are reused and "
                    "interrupted ones resumed. Every run explores as the paper's agent: the "
                    "policy acts even with a wrong cube in hand (--explore-held). Writes "
                    "OUT/reuse.md, OUT/fig7.png and OUT/reuse.json. JSON last line: "
                    "{\"tasks\": [{\"task\", \"steps_to_50_with_reuse\", "
                    "\"steps_to_50_scratch\", ...}], ...}.")
    add_run_options(e, "reuse", "seeds", "the detector that collects and re-scores")
    e.add_argument("--first-seed", type=int, default=0, metavar="S",
                   help="run seeds S .. S+K-1 (default 0), e.g. two processes on disjoint seeds "
                        "into one --out, then --seeds for all of them to tabulate")
    e.add_argument("--earlier-steps", type=int, default=EARLIER_STEPS, metavar="N",
                   help="the runs whose episodes later tasks import (Stack red on blue, the "
                        "reuse run of blue on green) keep collecting until at least N env steps, "
                        "also after the early-stop target, so that every seed's lifelong buffer "
                        "holds that much data; their steps to 50%% are unchanged. Default "
                        f"{EARLIER_STEPS}: the slowest first-task early stop seen, rounded up; 0: "
                        "every run stops at its target, and the buffer holds whatever that "
                        "left. Stored shorter runs are extended.")
    add_explore_held(e, "policy")
    add_json_flag(e)
    e.set_defaults(func=run_reuse_cmd)


OWN_OUTPUTS = frozenset({"runs", "reuse.md", "fig7.png", "reuse.json"})
"""What ``reproduce reuse`` writes into --out (finished runs are reused on a re-run)."""


def run_reuse_cmd(args: argparse.Namespace) -> int:
    from experiments.paper.reuse import run_reuse

    if args.first_seed < 0 or args.earlier_steps < 0:
        raise UsageError("--first-seed and --earlier-steps must be >= 0")
    check_run_options(args, OWN_OUTPUTS)
    try:
        summary = run_reuse(args.seeds, args.out, args.detector, args.budget_scale,
                            progress=not args.json, say=say,
                            detector_path=str(args.detector_path) if args.detector_path else None,
                            set_down_exploring=args.explore_held == "set-down",
                            earlier_steps=args.earlier_steps, first_seed=args.first_seed)
    except ValueError as exc:  # stored runs in --out made another way
        raise UsageError(str(exc)) from None
    human = (args.out / "reuse.md").read_text() + f"\nfigure: {args.out}/fig7.png"
    emit(summary, args.json, human)
    return 0
