"""``langstack imitate`` and ``langstack demo-video``: one-shot imitation from a video."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Sequence

from experiments.cli.util import (
    UsageError, add_json_flag, check_video_out, emit, non_negative_int, one_line, positive_int,
    say,
)

DETECTOR_RECIPES = ("default", "plain")
NO_SUBGOAL_EXIT = 1


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``imitate`` and ``demo-video``."""
    _register_imitate(sub)
    _register_demo_video(sub)


def _register_imitate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "imitate", help="one-shot imitation: read the sub-goals a video shows, then do them",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="""\
Read the plan a video shows and execute it with a trained policy.

The CLIP detector scores every frame against the sub-goal captions. A caption appears when
it scores >= gamma (the detector's calibrated threshold) on --debounce consecutive frames;
the plan is the captions in order of first appearance, in the planner's format (each stack
"X on Y" preceded by grasping X; a grasp that leads to no stack is dropped unless the video
ends with it). A frame twice as wide as high is read as two camera views side by side (what
`langstack demo-video` writes); any other frame is one view, centre-cropped to a square.
Videos longer than --max-frames are subsampled evenly. The policy of --run-dir then pursues
the plan in --episodes fresh scenes, moving to the next sub-goal when the run's detector
confirms the current one; success is judged by the ground truth (every stack of the plan
holds at once, or the final grasp), which the agent never reads.

Exit codes: 0 done (whether or not the execution succeeded); 1 no sub-goal was detected in
the video: the input was valid, so it is not a usage error, but there is nothing to imitate
and the command could not do its job (the reason and the best score are printed, nothing is
executed, the JSON has an empty plan); 2 bad input (unreadable or corrupt video, empty
folder, frames that are not H x W x 3 RGB or of different sizes, a grayscale video, not a
run directory).
JSON (last line with --json): {"plan", "success" (the first episode), "success_rate",
"episodes", "events", "frames_scored", ...}.""")
    p.add_argument("video", metavar="VIDEO", help="an .mp4/.gif (or another ffmpeg format) or a "
                   "folder of .png/.jpg frames (sorted by name)")
    p.add_argument("--run-dir", type=Path, required=True,
                   help="a trained run (langstack train) whose policy executes the plan")
    p.add_argument("--episodes", type=positive_int, default=1,
                   help="fresh scenes to execute the plan in (default 1: one-shot)")
    p.add_argument("--seed", type=non_negative_int, default=0,
                   help="selects the fresh scenes (default 0)")
    p.add_argument("--detector", default="default", metavar="RECIPE|DIR",
                   help="the detector that reads the video: default (the embedded default, "
                        "trained with the arm in random colours, so another robot's colours are "
                        "not read as cubes; built and cached on first use), plain (the recipe "
                        "without arm colours, for comparison) or a detector checkpoint directory")
    p.add_argument("--debounce", type=positive_int, default=3,
                   help="consecutive frames a caption must hold to appear (default 3)")
    p.add_argument("--max-frames", type=positive_int, default=240,
                   help="longer videos are subsampled evenly to this many frames (default 240)")
    p.add_argument("--views", type=positive_int, choices=(1, 2), default=None,
                   help="camera views side by side in each frame (default: 2 if the frame is "
                        "twice as wide as high, else 1)")
    p.add_argument("--horizon", type=positive_int, default=None,
                   help="steps per execution episode (default: the run's)")
    add_json_flag(p)
    p.set_defaults(func=run_imitate)


def _register_demo_video(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo-video", help="render the scripted expert doing a task to a video (for imitate)",
        description="Render the scripted expert solving INSTRUCTION from a fresh scene, with "
                    "~10 frames during every pick and place, both cameras side by side. With "
                    "--shift, under visual domain shift: moved cameras, other light, cube size "
                    "and shade, another table colour, and another arm (the KUKA iiwa from "
                    "pybullet_data, posed by inverse kinematics at the hidden Panda's grasp "
                    "point) as the external agent. JSON (last line with --json): {\"video\", "
                    "\"frames\", \"shown_plan\" (the sub-goals the video really shows), ...}.")
    p.add_argument("--instruction", required=True, metavar="TEXT",
                   help='e.g. "stack the red object on top of the blue object", "stack all three '
                        'objects", steps joined by "then"')
    p.add_argument("--out", type=Path, required=True, metavar="FILE.mp4|FILE.gif")
    p.add_argument("--shift", action="store_true",
                   help="visual domain shift: other cameras, light, cubes and arm (KUKA iiwa)")
    p.add_argument("--seed", type=non_negative_int, default=0,
                   help="selects the scene and, with --shift, the shifted look (default 0)")
    p.add_argument("--size", type=positive_int, default=128,
                   help="pixels per camera view (default 128, the detector's training size)")
    add_json_flag(p)
    p.set_defaults(func=run_demo_video)


def run_demo_video(args: argparse.Namespace) -> int:
    from experiments.cli.util import parse_task
    from experiments.imitation.demo_video import write_demo_video
    from sim.demo import DemoConfig

    task = parse_task(args.instruction)
    out = check_video_out(args.out, "--out")
    if args.size < 16:
        raise UsageError(f"--size must be >= 16, got {args.size}")
    cfg = DemoConfig(shift=args.shift, seed=args.seed, image_size=args.size)
    result = write_demo_video(task, out, cfg)
    if not result["expert_success"]:
        say(f"warning: the expert did not finish {task.instruction!r} in {cfg.max_steps} steps")
    look = f"shifted, {result['robot']}" if args.shift else "training look"
    human = (f"{result['video']}: {result['frames']} frames of the expert doing "
             f"{task.instruction!r} ({look})\nshown: " + "; ".join(result["shown_plan"]))
    emit(result, args.json, human)
    return 0


def run_imitate(args: argparse.Namespace) -> int:
    from experiments.imitation.frames import read_video
    from experiments.imitation.imitate import WatchConfig, execute_plan, read_plan
    from experiments.imitation.watch import n_views

    if not (args.run_dir / "config.json").is_file():
        raise UsageError(f"not a run directory (no config.json): {str(args.run_dir)!r}")
    watch = WatchConfig(max_frames=args.max_frames, debounce=args.debounce, views=args.views)
    frames = read_video(args.video, watch.max_frames, progress=not args.json)  # bad input first
    n_views(*frames.frames.shape[1:3], watch.views)
    check_imitating_run(args.run_dir)
    check_video_detector(args.detector)
    detector = load_video_detector(args.detector, progress=not args.json)
    video = read_plan(frames, detector, watch, progress=not args.json)
    result: dict[str, Any] = {
        "video": args.video, "plan": video.plan, "success": False,
        "events": [{"caption": e.caption, "frame": e.frame, "score": round(e.score, 4)}
                   for e in video.events],
        "frames_total": video.frames_total, "frames_scored": video.frames_scored,
        "views": video.views, "gamma": video.gamma, "run_dir": str(args.run_dir)}
    if not video.plan:
        say(f"no sub-goal detected in {args.video}: no caption scored >= gamma "
            f"({video.gamma:.3f}) on {watch.debounce} consecutive frames of the "
            f"{video.frames_scored} scored (best score {video.best_score:.3f}); nothing to imitate")
        emit({**result, "success_rate": 0.0, "episodes": 0}, args.json, "plan: (empty)")
        return NO_SUBGOAL_EXIT
    try:
        run = execute_plan(args.run_dir, video.plan, args.episodes, args.seed, args.horizon,
                           progress=not args.json)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    outcomes = run["episodes"]
    result.update(success=outcomes[0]["success"], success_rate=run["success_rate"],
                  episodes=len(outcomes), outcomes=outcomes, task=run["task"],
                  execution_detector=run["detector"])
    emit(result, args.json, _human(result))
    return 0


def check_imitating_run(run_dir: Path, instructions: Sequence[str] = ()) -> None:
    """A trained framework run whose policy can pursue sub-goals (checked before any work)."""
    from experiments.collect_infer.evaluate import check_run

    if check_run(run_dir, tuple(instructions)).agent == "baseline":
        raise UsageError(f"{run_dir} was trained with the env-reward baseline: it has no "
                         "sub-goal skills to pursue a plan with")


def check_video_detector(choice: str) -> None:
    """--detector names a recipe (its default detector's weights checked) or a detector
    directory (its files checked), before any video is read."""
    from experiments.collect_infer.prepare import check_detector_dir

    if choice in DETECTOR_RECIPES:
        from perception.factory import find_pretrained

        find_pretrained()  # a malformed LANGSTACK_CLIP_PRETRAINED fails here
        return
    if not Path(choice).is_dir():
        raise UsageError(f"--detector: {choice!r} is neither a recipe "
                         f"({', '.join(DETECTOR_RECIPES)}) nor a directory")
    try:
        check_detector_dir(Path(choice))
    except (ValueError, OSError) as exc:
        raise UsageError(f"--detector: {one_line(exc)}") from None


def load_video_detector(choice: str, progress: bool = True) -> Any:
    """The detector that reads videos: a recipe's cached build or a checkpoint directory."""
    from perception import load_detector

    try:
        if choice in DETECTOR_RECIPES:
            return load_detector(None, device="cpu", build_if_missing=True, progress=progress,
                                 recipe=choice)
        if not Path(choice).is_dir():
            raise UsageError(f"--detector: {choice!r} is neither a recipe "
                             f"({', '.join(DETECTOR_RECIPES)}) nor a directory")
        return load_detector(choice, device="cpu")
    except (FileNotFoundError, ValueError) as exc:
        raise UsageError(f"--detector: {exc}") from None


def _human(result: dict[str, Any]) -> str:
    lines = [f"video: {result['video']} ({result['frames_total']} frames, "
             f"{result['frames_scored']} scored, {result['views']} view(s) each)"]
    lines += [f"  frame {e['frame']:>4}: {e['caption']} (score {e['score']:.3f})"
              for e in result["events"]]
    lines.append("plan:")
    lines += [f"  {i}. {c}" for i, c in enumerate(result["plan"], 1)]
    wins = sum(o["success"] for o in result["outcomes"])
    lines.append(f"executed by {result['run_dir']} (detector {result['execution_detector']}) in "
                 f"{result['episodes']} fresh scene(s): success {wins}/{result['episodes']}")
    return "\n".join(lines)
