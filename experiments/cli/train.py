"""``langstack train`` and ``langstack eval``: Collect & Infer, and evaluating a run."""
from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from experiments.cli.hub import (
    add_clip_option, add_offline_flag, apply_hub_flags, check_clip_for_run, use_clip,
)
from experiments.cli.util import (
    UsageError, add_explore_held, add_json_flag, add_ray_address, check_task, emit, finite_float,
    non_negative_int, one_line, positive_int, ray_address, say,
)

if TYPE_CHECKING:
    from experiments.collect_infer.config import TrainConfig
    from experiments.collect_infer.rundir import RunDir

MAX_DEFAULT_ACTORS = 4
"""Each actor holds its own env, detector and policy (~1 GB)."""


def default_actors() -> int:
    """One collector per CPU core this process may use, at most ``MAX_DEFAULT_ACTORS``."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_DEFAULT_ACTORS))


NEW_RUN_DEFAULTS = {"agent": "framework", "detector": "clip", "planner": "auto", "seed": 0,
                    "max_env_steps": 50_000, "eval_every": 2_000, "explore_held": "set-down"}
"""Defaults of the options a resumed run takes from its config (so "not given" is known)."""
KEPT_ON_RESUME = {"task": "--task", "also": "--also", "agent": "--agent",
                  "detector": "--detector", "detector_path": "--detector-path",
                  "planner": "--planner", "seed": "--seed", "eval_every": "--eval-every",
                  "reuse_from": "--reuse-from", "set_down_exploring": "--explore-held"}
"""Settings that fix what a run learns and measures: with --resume, such a flag must agree
with the run (or be left out). --actors, --no-overlap, --max-env-steps, --target-success and
--no-video are honoured on resume (so is --ray-address, which no run stores)."""
RESUME_NOTE = ("with --resume: --actors, --ray-address, --no-overlap, --max-env-steps, "
               "--target-success and --no-video apply to the continued run; --task, --also, "
               "--agent, --detector, --detector-path, --planner, --seed, --eval-every, "
               "--reuse-from and --explore-held must match the run's own settings or be left "
               "out (refused otherwise)")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train", help="learn a task by Collect & Infer (or the env-reward baseline)",
        description="Collect & Infer: sub-goals from the planner, rewards inferred by the "
                    "detector with hindsight relabelling, behaviour cloning of what worked. "
                    "Writes runs/<task>__<agent>__<seed>__<time>/ (config, metrics, "
                    "checkpoints, learning-curve PNG, eval video). The last line with --json: "
                    '{"env_steps", "eval_success_rate", "steps_to_50", "wall_s", "run_dir"}. '
                    + RESUME_NOTE + ".")
    p.add_argument("--task", metavar="INSTRUCTION", help='e.g. "stack all three objects"')
    p.add_argument("--also", nargs="+", default=None, metavar="INSTRUCTION",
                   help="further instructions learned in the same run: one multi-skill policy "
                        "for all of them (episodes rotate over --task and these), e.g. for "
                        "langstack run on instructions never trained as tasks")
    p.add_argument("--agent", choices=("framework", "baseline"), default=None,
                   help="framework (default): sub-goals + detector + hindsight; baseline: env "
                        "reward only")
    p.add_argument("--detector", choices=("clip", "oracle"), default=None,
                   help="clip (default) or oracle ground-truth predicates (prices the detector's errors)")
    p.add_argument("--detector-path", type=Path, metavar="DIR",
                   help="a detector checkpoint dir (default: the cached embedded default, built "
                        "on first use)")
    add_clip_option(p)
    p.add_argument("--planner", choices=("auto", "flan-t5", "grammar"), default=None,
                   help="default auto: FLAN-T5 if its weights are here or downloadable (not "
                        "--offline), else grammar")
    add_offline_flag(p)
    p.add_argument("--actors", type=positive_int, default=None,
                   help="collector actors; N > 1 runs N Ray actors, 1 runs in-process "
                        f"(default: one per CPU core, at most {MAX_DEFAULT_ACTORS}; "
                        f"here {default_actors()}; with --resume, the run's own unless given)")
    add_ray_address(p)
    p.add_argument("--no-overlap", action="store_true",
                   help="with N > 1 actors, wait for behaviour cloning before collecting the "
                        "next round (default: the actors collect it meanwhile, with weights "
                        "one round old)")
    p.add_argument("--max-env-steps", type=positive_int, default=None,
                   help="env-step budget (default 50000; with --resume, the run's own unless "
                        "given)")
    p.add_argument("--seed", type=non_negative_int, default=None, help="default 0")
    p.add_argument("--run-dir", type=Path,
                   help="run directory (default runs/<task>__<agent>__<seed>__<time>); a new "
                        "run needs a new or empty directory")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --run-dir from its committed episodes and "
                        "checkpoint (" + RESUME_NOTE + ")")
    p.add_argument("--eval-every", type=positive_int, default=None,
                   help="env steps between curve evals (default 2000)")
    p.add_argument("--target-success", type=finite_float, default=None,
                   help="stop early once a curve eval (and a confirmation on 50 other fresh "
                        "episodes) reaches this success rate; >1 disables (default 0.95; with "
                        "--resume, the run's own setting unless given)")
    p.add_argument("--no-video", action="store_true", help="skip the eval video")
    p.add_argument("--reuse-from", nargs="+", type=Path, default=None, metavar="RUN_DIR",
                   help="lifelong data reuse: run (or episode-store) dirs of earlier tasks; their "
                        "episodes are re-scored by this run's detector against this task's "
                        "sub-goals and the steps that reached one are imported (the policy "
                        "still starts from fresh weights)")
    add_explore_held(p, "set-down", unset=True)
    add_json_flag(p)
    p.set_defaults(func=run_train)

    e = sub.add_parser("eval", help="evaluate a trained run greedily on fresh episodes",
                       description="Greedy evaluation of a run's latest checkpoint on fresh seeds.")
    e.add_argument("--run-dir", type=Path, required=True)
    e.add_argument("--task", metavar="INSTRUCTION", help="another task for the same policy "
                   "(default: the run's task)")
    e.add_argument("--episodes", type=positive_int, default=100)
    e.add_argument("--seed", type=non_negative_int, default=12345)
    add_offline_flag(e)
    add_json_flag(e)
    e.set_defaults(func=run_eval)


def run_train(args: argparse.Namespace) -> int:
    from experiments.collect_infer.actors import ActorsLost
    from experiments.collect_infer.loop import train
    from experiments.collect_infer.prepare import check_detector, check_plans
    from experiments.collect_infer.reuse import ReuseError

    apply_hub_flags(args)
    check_clip_for_run(args)
    cfg, run = _resumed(args) if args.resume else _new_run(args)
    address = ray_address(args.ray_address, cfg.actors)  # not stored: a resume may use another
    _check_reuse(cfg)
    use_clip(args.clip)  # fetched (or the fallback said) before the detector is pinned
    try:
        check_detector(cfg)
    except (ValueError, OSError) as exc:
        flag = "--detector-path: " if args.detector_path is not None else ""
        raise UsageError(f"{flag}{one_line(exc)}") from None
    check_plans(cfg)
    if args.resume:
        say(f"resuming {run.root}")
    else:
        run.create()
    try:
        result = train(cfg, run, resume=args.resume, progress=not args.json,
                       ray_address=address)
    except ReuseError as exc:
        raise UsageError(f"--reuse-from: {exc}") from None
    except ActorsLost as exc:  # every round before the failing one is committed
        raise ActorsLost(f"{one_line(exc)}; the episodes already collected are kept: continue "
                         f"with --resume --run-dir {run.root}") from None
    human = (f"{cfg.task!r} ({cfg.agent}, detector {cfg.detector}): eval success "
             f"{result['eval_success_rate']:.2f} over {cfg.final_eval_episodes} fresh episodes after "
             f"{result['env_steps']} env steps; steps to 50%: {result['steps_to_50']}; "
             f"{result['wall_s'] / 60:.1f} min\nrun: {result['run_dir']}")
    emit(result, args.json, human)
    return 0


def _new_run(args: argparse.Namespace) -> tuple[TrainConfig, RunDir]:
    """The config and (not yet created) run directory of a new run, every flag checked."""
    from experiments.collect_infer.config import TrainConfig
    from experiments.collect_infer.rundir import RunDir, check_new_run_dir, run_name

    if not args.task:
        raise UsageError("--task is required (or --resume with --run-dir)")
    given = {k: v if getattr(args, k) is None else getattr(args, k)
             for k, v in NEW_RUN_DEFAULTS.items()}
    task = check_task(args.task, given["planner"])
    try:
        cfg = TrainConfig(task=task, agent=given["agent"], detector=given["detector"],
                          planner=given["planner"], actors=args.actors or default_actors(),
                          overlap=not args.no_overlap, max_env_steps=given["max_env_steps"],
                          seed=given["seed"], eval_every=given["eval_every"],
                          video=not args.no_video,
                          detector_path=str(args.detector_path) if args.detector_path else None,
                          target_success=_target(0.95 if args.target_success is None
                                                 else args.target_success),
                          reuse_from=_reuse_paths(args.reuse_from or ()),
                          set_down_exploring=given["explore_held"] == "set-down",
                          also=tuple(check_task(t, given["planner"]) for t in args.also or ()))
    except ValueError as exc:  # the config's own checks (e.g. --also with the baseline)
        raise UsageError(str(exc)) from None
    run = RunDir(args.run_dir or Path("runs") / run_name(task, cfg.agent, cfg.seed))
    try:
        check_new_run_dir(run.root)
    except (FileExistsError, NotADirectoryError) as exc:
        raise UsageError(f"--run-dir: {exc}") from None
    return cfg, run


def _resumed(args: argparse.Namespace) -> tuple[TrainConfig, RunDir]:
    """The stored config of the run in --run-dir with the flags honoured on resume applied;
    a flag that would change what the run learns is refused unless it agrees."""
    from experiments.collect_infer.rundir import RunDir

    if args.run_dir is None:
        raise UsageError("--resume needs --run-dir of an existing run (with config.json)")
    run = RunDir(args.run_dir)
    if not run.config_path.is_file():
        raise UsageError(f"--resume: not a run directory (no config.json): {args.run_dir}")
    cfg = run.train_config()
    run.records()  # a corrupt metrics line fails now, not after the detector is loaded
    for name, flag in KEPT_ON_RESUME.items():
        value = _resume_flag(args, name)
        if value is not None and not _same(name, value, getattr(cfg, name)):
            raise UsageError(f"{flag}: the run in {run.root} was made with {flag} "
                             f"{_shown(name, getattr(cfg, name))}, not {_shown(name, value)}; "
                             f"a resumed run keeps it (leave {flag} out, or start a new run)")
    if args.detector_path is not None:
        cfg.detector_path = str(args.detector_path)
    if args.actors is not None:
        cfg.actors = args.actors
    if args.no_overlap:
        cfg.overlap = False
    if args.max_env_steps is not None:
        cfg.max_env_steps = args.max_env_steps
    if args.no_video:
        cfg.video = False
    if args.target_success is not None:
        cfg.target_success = _target(args.target_success)
    return cfg, run


def _resume_flag(args: argparse.Namespace, name: str) -> Any:
    """The value a KEPT_ON_RESUME flag gives the setting ``name``, or None if not given."""
    if name == "task":
        return check_task(args.task) if args.task is not None else None
    if name == "also":
        return tuple(check_task(t) for t in args.also) if args.also else None
    if name == "reuse_from":
        return _reuse_paths(args.reuse_from) if args.reuse_from else None
    if name == "detector_path":
        return str(args.detector_path) if args.detector_path is not None else None
    if name == "set_down_exploring":
        return None if args.explore_held is None else args.explore_held == "set-down"
    return getattr(args, name)


def _same(name: str, given: Any, stored: Any) -> bool:
    """Whether a flag given on resume agrees with the run's setting."""
    if name == "detector_path":
        return stored is None or Path(given).resolve() == Path(stored).resolve()
    return given == stored


def _shown(name: str, value: Any) -> str:
    """A setting as its flag would be written."""
    if name == "set_down_exploring":
        return "set-down" if value else "policy"
    if isinstance(value, tuple):
        return " ".join(repr(v) for v in value) or "(none)"
    return repr(value) if isinstance(value, str) else str(value)


def _reuse_paths(paths: Any) -> tuple[str, ...]:
    """--reuse-from as stored: absolute paths."""
    return tuple(str(Path(p).resolve()) for p in paths)


def run_eval(args: argparse.Namespace) -> int:
    from experiments.collect_infer.evaluate import check_run, evaluate_run

    apply_hub_flags(args)
    task = check_task(args.task) if args.task is not None else None
    check_run(args.run_dir, (task,) if task else ())
    result = evaluate_run(args.run_dir, task, args.episodes, args.seed, progress=not args.json)
    human = (f"{result['task']!r}: success {result['success_rate']:.2f} over "
             f"{result['episodes']} fresh episodes ({result['planner']} planner)")
    emit(result, args.json, human)
    return 0


def _check_reuse(cfg: TrainConfig) -> None:
    """--reuse-from sources exist and this run's detector can re-score them."""
    from experiments.collect_infer.reuse import ReuseError, check_sources

    digest = None  # the default detector's hash is checked when the run loads it
    if cfg.detector == "clip" and cfg.detector_path is not None:
        from perception.card import weights_sha256
        from perception.detector import WEIGHTS_FILE

        weights = Path(cfg.detector_path) / WEIGHTS_FILE
        digest = weights_sha256(weights) if weights.is_file() else None
    try:
        check_sources(cfg.reuse_from, cfg.detector, digest)
    except ReuseError as exc:
        raise UsageError(f"--reuse-from: {exc}") from None


def _target(value: float) -> float | None:
    """--target-success: a rate in (0, 1], or None (> 1: always spend the budget)."""
    if value <= 0:
        raise UsageError(f"--target-success must be > 0, got {value}")
    return value if value <= 1 else None
