"""``langstack reproduce exploration``: the paper's exploration experiment (Fig. 4 and 5)."""
from __future__ import annotations

import argparse
import importlib
from pathlib import Path

from experiments.cli.util import (
    UsageError, add_json_flag, check_out_dir, emit, finite_float, one_line, positive_int, say,
)

TASK_KEYS = {"grasp": 0, "stack": 1, "triple": 2}
OTHER_EXPERIMENTS: tuple[str, ...] = ("reproduce_reuse", "reproduce_scheduling", "reproduce_video",
                                       "reproduce_peers", "reproduce_all")
"""Modules under experiments/cli, each with ``register_experiment(rsub)``."""
EXPLORATION_OUTPUTS = frozenset({"runs", "fig4.png", "fig5.png", "exploration.md",
                                 "exploration.json"})
"""What ``reproduce exploration`` writes into --out (finished runs are reused on a re-run)."""


def register(sub: argparse._SubParsersAction) -> None:
    from experiments.paper.exploration import EXPLORATION_TASKS
    from experiments.paper.grid import protocol_text

    budgets = ", ".join(f"{t.label} {t.budget:,}" for t in EXPLORATION_TASKS)
    p = sub.add_parser("reproduce", help="reproduce the paper's experiments (figures + tables)",
                       description="Reproduce the paper's experiments on this machine.")
    rsub = p.add_subparsers(dest="experiment", metavar="EXPERIMENT", parser_class=type(p))
    rsub.required = True
    e = rsub.add_parser(
        "exploration", help="Fig. 4 (learning curves) and Fig. 5 (steps to 50%% vs sparseness)",
        description="Collect & Infer (framework) and the env-reward baseline on Grasp red, Stack "
                    "red on blue and Triple Stack, several seeds each. Runs go to "
                    "OUT/runs/<task>__<agent>__<seed>/; finished runs are reused and interrupted "
                    "ones resumed, so the command can be re-run. Writes OUT/fig4.png, "
                    "OUT/fig5.png, OUT/exploration.md and OUT/exploration.json. Env-step "
                    f"budgets, the same for both agents: {budgets}; a run stops early at "
                    f"--target-success. One protocol: {protocol_text()}.")
    add_run_options(e, "exploration", "seeds per task and agent", "the framework's detector")
    e.add_argument("--tasks", default="grasp,stack,triple",
                   help="comma-separated subset of grasp, stack, triple (default all three)")
    e.add_argument("--baseline-seeds", type=positive_int, default=None,
                   help="seeds of the env-reward baseline, which mostly spends its whole "
                        "budget (~17 min per 10k env steps here, plus its evals); default "
                        "--seeds")
    e.add_argument("--target-success", type=finite_float, default=0.95,
                   help="a run stops early once its curve (and a confirmation) reaches this")
    e.add_argument("--sparsity-samples", type=positive_int, default=200,
                   help="Monte Carlo trials per stage for the sparseness estimate (default 200)")
    add_json_flag(e)
    e.set_defaults(func=run_exploration_cmd)
    for name in OTHER_EXPERIMENTS:
        importlib.import_module(f"experiments.cli.{name}").register_experiment(rsub)


def add_run_options(parser: argparse.ArgumentParser, name: str, seeds_help: str,
                    detector_help: str) -> None:
    """--seeds, --out (default runs/reproduce/<name>), --detector, --detector-path and
    --budget-scale: the options of every experiment made of Collect & Infer runs."""
    parser.add_argument("--seeds", type=positive_int, default=3, help=f"{seeds_help} (default 3)")
    parser.add_argument("--out", type=Path, default=Path("runs/reproduce") / name,
                        help=f"output directory (default runs/reproduce/{name}): new, empty, or "
                             "an earlier output of this command (its runs are reused); any "
                             "other folder is refused")
    parser.add_argument("--detector", choices=("clip", "oracle"), default="clip",
                        help=f"{detector_help} (default clip)")
    parser.add_argument("--detector-path", type=Path, metavar="DIR",
                        help="a detector checkpoint dir (default: the cached embedded default)")
    parser.add_argument("--budget-scale", type=finite_float, default=1.0,
                        help="multiply every env-step budget (and so the eval grid) by this "
                             "(e.g. 0.1 for a smoke run)")


def check_run_options(args: argparse.Namespace, own: frozenset[str]) -> None:
    """The options of :func:`add_run_options`, checked before any run starts: the budget
    scale, --out (new, empty or this command's own outputs) and the detector."""
    from experiments.collect_infer.prepare import check_detector_dir

    if not 0 < args.budget_scale <= 10:
        raise UsageError(f"--budget-scale must be in (0, 10], got {args.budget_scale}")
    check_out_dir(args.out, own)
    if args.detector_path is not None:
        try:
            check_detector_dir(args.detector_path)
        except (ValueError, OSError) as exc:
            raise UsageError(f"--detector-path: {one_line(exc)}") from None
    else:
        from perception.factory import find_pretrained

        find_pretrained()  # a malformed LANGSTACK_CLIP_PRETRAINED fails before any run


def run_exploration_cmd(args: argparse.Namespace) -> int:
    from experiments.paper.exploration import EXPLORATION_TASKS, run_exploration

    keys = [k.strip() for k in args.tasks.split(",") if k.strip()]
    bad = [k for k in keys if k not in TASK_KEYS]
    if bad or not keys:
        raise UsageError(f"--tasks: unknown {bad or 'empty list'}; choose from {', '.join(TASK_KEYS)}")
    if not 0 < args.target_success <= 1:
        raise UsageError(f"--target-success must be in (0, 1], got {args.target_success}")
    check_run_options(args, EXPLORATION_OUTPUTS)
    tasks = tuple(EXPLORATION_TASKS[TASK_KEYS[k]] for k in sorted(set(keys), key=TASK_KEYS.get))
    summary = run_exploration(args.seeds, args.out, args.detector, args.target_success,
                              args.budget_scale, args.sparsity_samples, tasks,
                              progress=not args.json, say=say,
                              detector_path=str(args.detector_path) if args.detector_path else None,
                              baseline_seeds=args.baseline_seeds)
    human = (args.out / "exploration.md").read_text() + f"\nfigures: {args.out}/fig4.png, {args.out}/fig5.png"
    emit(summary, args.json, human)
    return 0
