"""``langstack run``: skill scheduling - a trained policy executes a new instruction."""
from __future__ import annotations

import argparse
from pathlib import Path

from experiments.cli.hub import add_offline_flag, apply_hub_flags
from experiments.cli.util import (
    add_json_flag, check_task, check_video_out, emit, non_negative_int, positive_int,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run", help="execute an instruction with a trained policy (skill scheduling)",
        description="Skill scheduling: the planner decomposes INSTRUCTION into sub-goal captions; "
                    "the policy of --run-dir pursues each until the detector confirms it, then "
                    "the next. The instruction need not be the one the run was trained on: any "
                    "instruction whose sub-goals the policy has learned (e.g. a policy trained "
                    "on the two-cube stacks runs \"stack all three objects\"). Reports the "
                    'success rate over fresh greedy episodes; the --json last line is {"task", '
                    '"plan", "episodes", "success_rate", ...}.')
    p.add_argument("--instruction", required=True, metavar="TEXT",
                   help='e.g. "stack the green object on the red object"')
    p.add_argument("--run-dir", type=Path, required=True, help="a trained run (langstack train)")
    p.add_argument("--episodes", type=positive_int, default=100, help="fresh episodes (default 100)")
    p.add_argument("--seed", type=non_negative_int, default=12345, help="seed of the fresh scenes")
    p.add_argument("--video", type=Path, metavar="OUT", help="also write two episodes to OUT (.mp4 or .gif)")
    add_offline_flag(p)
    add_json_flag(p)
    p.set_defaults(func=run_instruction_cmd)


def run_instruction_cmd(args: argparse.Namespace) -> int:
    from experiments.collect_infer.evaluate import check_run, evaluate_run
    from sim.seeds import RUN

    apply_hub_flags(args)
    task = check_task(args.instruction)
    video = check_video_out(args.video, "--video") if args.video else None
    check_run(args.run_dir, (task,))
    result = evaluate_run(args.run_dir, task, args.episodes, args.seed,
                          progress=not args.json, video=video, seed_range=RUN)
    human = (f"{task!r}: plan {result['plan']}\nsuccess {result['success_rate']:.2f} over "
             f"{result['episodes']} fresh episodes" + (f"\nvideo: {result['video']}" if video else ""))
    emit(result, args.json, human)
    return 0
