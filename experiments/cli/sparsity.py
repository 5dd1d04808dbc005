"""``langstack sparsity``: how many env steps a uniform random policy needs per success."""
from __future__ import annotations

import argparse
from dataclasses import asdict

from experiments.cli.util import (
    UsageError, add_json_flag, emit, non_negative_int, parse_task, positive_int,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sparsity", help="mean env steps per success of a uniform random policy",
        description="Task sparseness as in the paper (Sec. 5.1). The estimate solves the random "
                    "policy's Markov chain over task stages (pick a cube, place it on another, "
                    "top a two-cube stack) with stage probabilities measured by Monte Carlo in "
                    "the simulator; --direct-steps also runs the random policy itself.")
    p.add_argument("--task", required=True, metavar="INSTRUCTION",
                   help="a Grasp, Stack or Triple Stack instruction")
    p.add_argument("--samples", type=positive_int, default=200,
                   help="Monte Carlo trials per stage probability (default 200)")
    p.add_argument("--direct-steps", type=non_negative_int, default=None,
                   help="also run the random policy for this many env steps (default: 1000 for "
                        "Grasp tasks, 0 otherwise)")
    p.add_argument("--horizon", type=positive_int, default=10, help="steps per episode")
    p.add_argument("--seed", type=non_negative_int, default=0)
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from experiments.paper.sparsity import expected_steps, measure_direct, measure_stages

    task = parse_task(args.task)
    n_pairs = len(task.stacks)
    if not task.triple and (n_pairs > 1 or (n_pairs == 1 and len(task.goals) > 1)):
        raise UsageError("sparsity covers Grasp, Stack and Triple Stack tasks")
    is_grasp = not task.triple and n_pairs == 0
    direct = args.direct_steps if args.direct_steps is not None else (1000 if is_grasp else 0)
    stages = measure_stages(args.samples, seed=args.seed, progress=not args.json)
    estimate = expected_steps(task, stages, args.horizon)
    result = {"task": task.instruction, "horizon": args.horizon,
              "estimated_steps_per_success": estimate, "stages": asdict(stages),
              "method": "Markov chain over task stages, stage probabilities by Monte Carlo"}
    if direct:
        measured, successes = measure_direct(task, direct, seed=args.seed, progress=not args.json)
        result |= {"measured_steps_per_success": measured, "direct_steps": direct,
                   "direct_successes": successes}
    human = f"{task.instruction!r}: ~{estimate:.3g} env steps per success (estimate"
    human += f", {args.samples} trials per stage)"
    if direct:
        human += f"; measured {result['measured_steps_per_success']:.3g} over {direct} steps"
    emit(result, args.json, human)
    return 0
