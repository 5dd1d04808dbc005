"""``langstack train`` and ``langstack eval``: Collect & Infer, and evaluating a run."""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from experiments.cli.util import (
    UsageError, add_explore_held, add_json_flag, emit, non_negative_int, parse_task,
    positive_int, say,
)


MAX_DEFAULT_ACTORS = 4
"""Each actor holds its own env, detector and policy (~1 GB)."""


def default_actors() -> int:
    """One collector per CPU core this process may use, at most ``MAX_DEFAULT_ACTORS``."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_DEFAULT_ACTORS))


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train", help="learn a task by Collect & Infer (or the env-reward baseline)",
        description="Collect & Infer: sub-goals from the planner, rewards inferred by the "
                    "detector with hindsight relabelling, behaviour cloning of what worked. "
                    "Writes runs/<task>__<agent>__<seed>__<time>/ (config, metrics, "
                    "checkpoints, learning-curve PNG, eval video). The last line with --json: "
                    '{"env_steps", "eval_success_rate", "steps_to_50", "wall_s", "run_dir"}.')
    p.add_argument("--task", metavar="INSTRUCTION", help='e.g. "stack all three objects"')
    p.add_argument("--also", nargs="+", default=[], metavar="INSTRUCTION",
                   help="further instructions learned in the same run: one multi-skill policy "
                        "for all of them (episodes rotate over --task and these), e.g. for "
                        "langstack run on instructions never trained as tasks")
    p.add_argument("--agent", choices=("framework", "baseline"), default="framework",
                   help="framework: sub-goals + detector + hindsight; baseline: env reward only")
    p.add_argument("--detector", choices=("clip", "oracle"), default="clip",
                   help="clip (default) or oracle ground-truth predicates (prices the detector's errors)")
    p.add_argument("--detector-path", type=Path, metavar="DIR",
                   help="a detector checkpoint dir (default: the cached embedded default, built "
                        "on first use)")
    p.add_argument("--planner", choices=("auto", "flan-t5", "grammar"), default="auto")
    p.add_argument("--actors", type=positive_int, default=None,
                   help="collector actors; N > 1 runs N Ray actors, 1 runs in-process "
                        f"(default: one per CPU core, at most {MAX_DEFAULT_ACTORS}; "
                        f"here {default_actors()})")
    p.add_argument("--no-overlap", action="store_true",
                   help="with N > 1 actors, wait for behaviour cloning before collecting the "
                        "next round (default: the actors collect it meanwhile, with weights "
                        "one round old)")
    p.add_argument("--max-env-steps", type=positive_int, default=50_000)
    p.add_argument("--seed", type=non_negative_int, default=0)
    p.add_argument("--run-dir", type=Path, help="run directory (default runs/<task>__<agent>__<seed>__<time>)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --run-dir from its committed episodes and checkpoint")
    p.add_argument("--eval-every", type=positive_int, default=2_000, help="env steps between curve evals")
    p.add_argument("--target-success", type=float, default=None,
                   help="stop early once a curve eval (and a confirmation on 50 other fresh "
                        "episodes) reaches this success rate; >1 disables (default 0.95; with "
                        "--resume, the run's own setting unless given)")
    p.add_argument("--no-video", action="store_true", help="skip the eval video")
    p.add_argument("--reuse-from", nargs="+", type=Path, default=[], metavar="RUN_DIR",
                   help="lifelong data reuse: run (or episode-store) dirs of earlier tasks; their "
                        "episodes are re-scored by this run's detector against this task's "
                        "sub-goals and the steps that reached one are imported (the policy "
                        "still starts from fresh weights)")
    add_explore_held(p, "set-down")
    add_json_flag(p)
    p.set_defaults(func=run_train)

    e = sub.add_parser("eval", help="evaluate a trained run greedily on fresh episodes",
                       description="Greedy evaluation of a run's latest checkpoint on fresh seeds.")
    e.add_argument("--run-dir", type=Path, required=True)
    e.add_argument("--task", metavar="INSTRUCTION", help="another task for the same policy "
                   "(default: the run's task)")
    e.add_argument("--episodes", type=positive_int, default=100)
    e.add_argument("--seed", type=non_negative_int, default=12345)
    add_json_flag(e)
    e.set_defaults(func=run_eval)


def run_train(args: argparse.Namespace) -> int:
    from experiments.collect_infer.config import TrainConfig
    from experiments.collect_infer.loop import train
    from experiments.collect_infer.reuse import ReuseError
    from experiments.collect_infer.rundir import RunDir, run_name

    if args.resume:
        if args.run_dir is None or not (args.run_dir / "config.json").exists():
            raise UsageError("--resume needs --run-dir of an existing run (with config.json)")
        run = RunDir(args.run_dir)
        cfg = TrainConfig(**run.read_config()["train"])
        cfg.max_env_steps = args.max_env_steps
        cfg.video = not args.no_video
        if args.target_success is not None:
            cfg.target_success = _target(args.target_success)
        _check_reuse(cfg)
        say(f"resuming {run.root}")
    else:
        if not args.task:
            raise UsageError("--task is required (or --resume with --run-dir)")
        task = _check_task(args.task)
        try:
            cfg = TrainConfig(task=task, agent=args.agent, detector=args.detector,
                              planner=args.planner,
                              actors=args.actors or default_actors(),
                              overlap=not args.no_overlap,
                              max_env_steps=args.max_env_steps, seed=args.seed,
                              eval_every=args.eval_every, video=not args.no_video,
                              detector_path=str(args.detector_path) if args.detector_path else None,
                              target_success=_target(0.95 if args.target_success is None
                                                     else args.target_success),
                              reuse_from=tuple(str(p.resolve()) for p in args.reuse_from),
                              set_down_exploring=args.explore_held == "set-down",
                              also=tuple(_check_task(t) for t in args.also))
        except ValueError as exc:  # the config's own checks (e.g. --also with the baseline)
            raise UsageError(str(exc)) from None
        _check_reuse(cfg)  # before the run dir is made
        root = args.run_dir or Path("runs") / run_name(task, cfg.agent, cfg.seed)
        try:
            run = RunDir(root).create()
        except FileExistsError as exc:
            raise UsageError(str(exc)) from None
    try:
        result = train(cfg, run, resume=args.resume, progress=not args.json)
    except ReuseError as exc:
        raise UsageError(f"--reuse-from: {exc}") from None
    human = (f"{cfg.task!r} ({cfg.agent}, detector {cfg.detector}): eval success "
             f"{result['eval_success_rate']:.2f} over {cfg.final_eval_episodes} fresh episodes after "
             f"{result['env_steps']} env steps; steps to 50%: {result['steps_to_50']}; "
             f"{result['wall_s'] / 60:.1f} min\nrun: {result['run_dir']}")
    emit(result, args.json, human)
    return 0


def run_eval(args: argparse.Namespace) -> int:
    from experiments.collect_infer.evaluate import evaluate_run

    if not (args.run_dir / "config.json").exists():
        raise UsageError(f"not a run directory (no config.json): {args.run_dir}")
    task = _check_task(args.task) if args.task else None
    result = evaluate_run(args.run_dir, task, args.episodes, args.seed, progress=not args.json)
    human = (f"{result['task']!r}: success {result['success_rate']:.2f} over "
             f"{result['episodes']} fresh episodes ({result['planner']} planner)")
    emit(result, args.json, human)
    return 0


def _check_reuse(cfg) -> None:
    """--reuse-from sources exist and this run's detector can re-score them."""
    from experiments.collect_infer.reuse import ReuseError, check_sources

    try:
        check_sources(cfg.reuse_from, cfg.detector)
    except ReuseError as exc:
        raise UsageError(f"--reuse-from: {exc}") from None


def _target(value: float) -> float | None:
    """--target-success: a rate in (0, 1], or None (> 1: always spend the budget)."""
    if value <= 0:
        raise UsageError(f"--target-success must be > 0, got {value}")
    return value if value <= 1 else None


def _check_task(text: str) -> str:
    parse_task(text)
    return text.strip()
