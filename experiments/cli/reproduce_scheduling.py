"""``langstack reproduce scheduling``: skill scheduling on several new instructions."""
from __future__ import annotations

import argparse
from pathlib import Path

from experiments.cli.util import (
    add_json_flag, check_out_dir, check_task, emit, non_negative_int, positive_int, say,
)


def register_experiment(rsub: argparse._SubParsersAction) -> None:
    p = rsub.add_parser(
        "scheduling", help="a multi-skill policy executes instructions it was never trained on",
        description="Skill scheduling (the paper's Sec. 5.3): the planner decomposes each "
                    "instruction and the policy of --run-dir runs its sub-goals one after "
                    "another, each until the detector confirms it. Default instructions: three-"
                    "cube tasks, new to a policy trained on the two-cube stacks (langstack "
                    "train --task ... --also ...). Writes OUT/scheduling.md, .json and .png.")
    p.add_argument("--run-dir", type=Path, required=True, help="a trained (multi-skill) run")
    p.add_argument("--instructions", nargs="+", metavar="TEXT",
                   help="instructions to run (default: the five listed in scheduling.md)")
    p.add_argument("--episodes", type=positive_int, default=100, help="per instruction (default 100)")
    p.add_argument("--seed", type=non_negative_int, default=12345)
    p.add_argument("--out", type=Path, default=Path("runs/reproduce/scheduling"),
                   help="output directory (default runs/reproduce/scheduling): new, empty or "
                        "an earlier output of this command")
    add_json_flag(p)
    p.set_defaults(func=run_scheduling_cmd)


OWN_OUTPUTS = frozenset({"scheduling.md", "scheduling.json", "scheduling.png"})
"""What the command writes into --out (a re-run overwrites them)."""


def run_scheduling_cmd(args: argparse.Namespace) -> int:
    from experiments.collect_infer.evaluate import check_run
    from experiments.paper.scheduling import SCHEDULING_INSTRUCTIONS, run_scheduling

    instructions = tuple(check_task(t) for t in (args.instructions or SCHEDULING_INSTRUCTIONS))
    check_out_dir(args.out, OWN_OUTPUTS)
    check_run(args.run_dir, instructions)
    summary = run_scheduling(args.run_dir, instructions, args.episodes, args.out, args.seed,
                             progress=not args.json, say=say)
    emit(summary, args.json, (args.out / "scheduling.md").read_text())
    return 0
