"""``langstack reproduce peers``: the framework beside SB3's TQC + HER, PPO and random."""
from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from experiments.cli.util import (
    UsageError, add_json_flag, check_out_dir, check_task, emit, non_negative_int, one_line,
    positive_int, say,
)

OWN_OUTPUTS = frozenset({"runs", "peers.json", "peers.md", "peers.png"})
"""What ``reproduce peers`` writes into --out (finished runs are reused on a re-run)."""


def register_experiment(rsub: argparse._SubParsersAction) -> None:
    """Add ``peers`` to the ``reproduce`` sub-commands."""
    from experiments.paper.grid import GRID_FIRST, GRID_RATIO
    from experiments.paper.peers import AGENTS, DEFAULT_EVAL_EPISODES, DEFAULT_TASKS

    budgets = ", ".join(f"{t.label} {t.budget:,}" for t in DEFAULT_TASKS)
    p = rsub.add_parser(
        "peers", help="the framework side by side with SB3 TQC+HER, PPO and a random policy",
        description="On each task, with the same horizon, env-step budget, training scenes "
                    "and evaluation (greedy success on the same fresh scenes of "
                    "sim.seeds.PEERS at a shared grid of env steps): the framework with the "
                    "CLIP and with the oracle detector, sb3-contrib TQC + HerReplayBuffer on "
                    "the goal-conditioned env (privileged goals and rewards), SB3 PPO on the "
                    "env reward and the uniform random policy. The SB3 peers are first tuned "
                    "(two candidate settings each, the same env steps each). Runs go to "
                    "OUT/runs/<task>__<agent>__<seed>/; finished runs and grid points are "
                    "reused and interrupted runs resumed. Writes OUT/peers.md (table, "
                    "settings, tuning), OUT/peers.png (success vs env steps, one panel per "
                    "task) and OUT/peers.json. Needs the bench extra (stable-baselines3, "
                    f"sb3-contrib). Default budgets: {budgets}.")
    p.add_argument("--tasks", nargs="+", metavar="TEXT",
                   help="instructions (default: " + "; ".join(t.instruction for t in DEFAULT_TASKS)
                        + ")")
    p.add_argument("--seeds", type=positive_int, default=3, help="run seeds per agent (default 3)")
    p.add_argument("--budget", type=positive_int, metavar="N",
                   help="env steps per run on every task (default: each task's own)")
    p.add_argument("--grid", metavar="SPEC",
                   help="eval points: N (every N env steps) or a,b,c (default: 0, "
                        f"{GRID_FIRST}, then points {round(100 * (GRID_RATIO - 1))}%% apart, and the budget)")
    p.add_argument("--eval-episodes", type=positive_int, default=DEFAULT_EVAL_EPISODES,
                   help=f"fresh scenes per eval point (default {DEFAULT_EVAL_EPISODES})")
    p.add_argument("--tune-budget", type=non_negative_int, metavar="N",
                   help="env steps per tuning candidate (default: a quarter of the budget; "
                        "0: no tuning, the published settings)")
    p.add_argument("--agents", nargs="+", choices=AGENTS, default=list(AGENTS), metavar="AGENT",
                   help=f"a subset of {', '.join(AGENTS)} (default all)")
    p.add_argument("--jobs", type=positive_int, default=2,
                   help="runs at a time, each in its own process (default 2)")
    p.add_argument("--out", "--runs-dir", dest="out", type=Path,
                   default=Path("runs/reproduce/peers"),
                   help="output directory (default runs/reproduce/peers): new, empty, or an "
                        "earlier output of this command (its runs are reused)")
    p.add_argument("--detector-path", type=Path, metavar="DIR",
                   help="the CLIP detector's checkpoint dir (default: the cached default)")
    add_json_flag(p)
    p.set_defaults(func=run_peers_cmd)


def run_peers_cmd(args: argparse.Namespace) -> int:
    from experiments.paper.peers import DEFAULT_TASKS, PeersConfig, run_peers

    try:
        import sb3_contrib  # noqa: F401
        import stable_baselines3  # noqa: F401
    except ImportError:
        raise UsageError("reproduce peers needs the bench extra: pip install -e '.[bench]'") \
            from None
    tasks = tuple(dict.fromkeys(check_task(t) for t in (args.tasks or
                                                         [t.instruction for t in DEFAULT_TASKS])))
    cfg = PeersConfig(tasks=tasks, seeds=args.seeds, budget=args.budget, grid=args.grid,
                      eval_episodes=args.eval_episodes, tune_budget=args.tune_budget,
                      agents=tuple(dict.fromkeys(args.agents)), jobs=args.jobs,
                      detector_path=str(args.detector_path) if args.detector_path else None)
    try:
        cfg.check()
    except ValueError as exc:
        raise UsageError(one_line(exc)) from None
    check_out_dir(args.out, OWN_OUTPUTS)
    _check_detector(args.detector_path, "framework-clip" in cfg.agents)
    command = "langstack " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    try:
        summary = run_peers(cfg, args.out, progress=not args.json, say=say, command=command)
    except ValueError as exc:  # stored runs in --out made another way
        raise UsageError(one_line(exc)) from None
    human = (args.out / "peers.md").read_text() + f"\nfigure: {args.out}/peers.png"
    emit(summary, args.json, human)
    return 0


def _check_detector(path: Path | None, needed: bool) -> None:
    """The CLIP detector (a --detector-path, or the cached default) before any run starts."""
    if not needed:
        return
    if path is not None:
        from experiments.collect_infer.prepare import check_detector_dir

        try:
            check_detector_dir(path)
        except (ValueError, OSError) as exc:
            raise UsageError(f"--detector-path: {one_line(exc)}") from None
    else:
        from perception.factory import find_pretrained

        find_pretrained()
