"""``langstack imitate`` and ``langstack demo-video``: one-shot imitation from a video."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Sequence

from experiments.cli.hub import add_clip_option, add_offline_flag, apply_hub_flags, use_clip
from experiments.cli.util import (
    UsageError, add_json_flag, check_video_out, emit, non_negative_int, one_line, positive_int,
    probability, say,
)
from experiments.imitation.decode import DecodeConfig

DETECTOR_RECIPES = ("default", "plain")
READER = "reader"
"""--detector choice of the video reader trained on randomised looks (perception.reader)."""
UNREADABLE_EXIT = 1


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

The video reader finds the cubes in every frame (a small keypoint net), scores the crop
around them against the sub-goal captions (CLIP) and follows where the cubes go (a cube that
moves is held; one carried next to another rests on it). The plan is read with
what physics allows: the hidden state of each frame is the symbolic scene (which cube is held,
which rests on which), changing only by moves a robot can make (grasp a clear cube when the
hand is empty; set the held cube on the table or on a clear cube), and the most likely
sequence of scenes given the scores is decoded (an HMM, Viterbi). The plan is what the video
ends with, in the planner's format (each tower bottom-up: grasp X, X on Y; then the grasp of
a cube still held), with its posterior probability as the confidence. A frame twice as wide
as high is read as two camera views side by side (what `langstack demo-video` writes); any
other frame is one view. Videos longer than --max-frames are
subsampled evenly. With --plan-only the command stops there (no run directory needed);
otherwise the policy of --run-dir pursues the plan in --episodes fresh scenes, moving to the
next sub-goal when the run's detector confirms the current one; success is judged by the
ground truth (every stack of the plan holds at once, or the final grasp), which the agent
never reads.

Exit codes: 0 done (whether or not the execution succeeded); 1 the video could not be read:
it ends with nothing stacked or held, or the plan's confidence is below --min-confidence
(the input was valid, so it is not a usage error, but the command could not do its job: the
reason and the best guess are printed, nothing is executed); 2 bad input (unreadable or
corrupt video, empty folder, frames that are not H x W x 3 RGB or of different sizes, a
grayscale video, not a run directory).
JSON (last line with --json): {"plan" (the best guess, in the planner's caption format),
"confidence", "readable", "reason", "changes" (frame and moves where the scene changes),
"alternatives", "frames_scored", ...; without --plan-only also "success" (the first
episode), "success_rate", "episodes", "outcomes"}.""")
    p.add_argument("video", metavar="VIDEO", help="an .mp4/.gif (or another ffmpeg format) or a "
                   "folder of .png/.jpg frames (sorted by name)")
    p.add_argument("--run-dir", type=Path, default=None,
                   help="a trained run (langstack train) whose policy executes the plan "
                        "(required unless --plan-only)")
    p.add_argument("--plan-only", action="store_true",
                   help="read and print the plan and its confidence; execute nothing")
    p.add_argument("--episodes", type=positive_int, default=1,
                   help="fresh scenes to execute the plan in (default 1: one-shot)")
    p.add_argument("--seed", type=non_negative_int, default=0,
                   help="selects the fresh scenes (default 0)")
    p.add_argument("--detector", default=None, metavar="RECIPE|DIR",
                   help="what reads the video: reader (the default without --clip: the cube "
                        "localiser, the CLIP scorer of the crop around the cubes and the cubes' "
                        "tracks, trained on randomised looks: any camera, arm, table and light; "
                        "built and cached on first use, ~8-14 min here), default (the default "
                        "with --clip: the agent's own detector, trained on its two fixed cameras "
                        "with the arm in random colours; each view centre-cropped to a square), "
                        "plain (that recipe without arm colours), or a detector or reader "
                        "checkpoint directory")
    p.add_argument("--min-confidence", type=probability, default=DecodeConfig.min_confidence,
                   help="the plan's posterior probability below which the video counts as "
                        f"unreadable (default {DecodeConfig.min_confidence})")
    p.add_argument("--max-frames", type=positive_int, default=240,
                   help="longer videos are subsampled evenly to this many frames (default 240)")
    p.add_argument("--views", type=positive_int, choices=(1, 2), default=None,
                   help="camera views side by side in each frame (default: 2 if the frame is "
                        "twice as wide as high, else 1)")
    p.add_argument("--horizon", type=positive_int, default=None,
                   help="steps per execution episode (default: the run's)")
    add_clip_option(p)
    add_offline_flag(p)
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

    apply_hub_flags(args)
    if args.run_dir is None and not args.plan_only:
        raise UsageError("--run-dir is required (or --plan-only to read the plan without acting)")
    choice = args.detector or ("default" if args.clip is not None else READER)
    if args.clip is not None and choice not in DETECTOR_RECIPES:
        raise UsageError("--clip applies to the detector recipes (--detector default or plain), "
                         + ("not to the video reader" if choice == READER
                            else "not to a --detector directory"))
    if args.run_dir is not None and not (args.run_dir / "config.json").is_file():
        raise UsageError(f"not a run directory (no config.json): {str(args.run_dir)!r}")
    watch = WatchConfig(max_frames=args.max_frames, views=args.views,
                        decode=DecodeConfig(min_confidence=args.min_confidence))
    frames = read_video(args.video, watch.max_frames, progress=not args.json)  # bad input first
    n_views(*frames.frames.shape[1:3], watch.views)
    if args.run_dir is not None:
        check_imitating_run(args.run_dir)
    use_clip(args.clip)  # fetched (or the fallback said) before the detector is built
    check_video_detector(choice)
    detector = load_video_detector(choice, progress=not args.json)
    video = read_plan(frames, detector, watch, progress=not args.json)
    result: dict[str, Any] = {"video": args.video, **video.summary()}
    if not video.readable:
        say(f"could not read {args.video}: {video.reason} (best guess: "
            f"{'; '.join(video.plan) or 'nothing'}; best caption score {video.best_score:.3f}, "
            f"gamma {video.gamma:.3f}); nothing executed")
        if not args.plan_only:
            result.update(success=False, success_rate=0.0, episodes=0, run_dir=str(args.run_dir))
        emit(result, args.json, _human_plan(result))
        return UNREADABLE_EXIT
    if args.plan_only:
        emit(result, args.json, _human_plan(result))
        return 0
    try:
        run = execute_plan(args.run_dir, video.plan, args.episodes, args.seed, args.horizon,
                           progress=not args.json)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    outcomes = run["episodes"]
    result.update(success=outcomes[0]["success"], success_rate=run["success_rate"],
                  episodes=len(outcomes), outcomes=outcomes, task=run["task"],
                  execution_detector=run["detector"], run_dir=str(args.run_dir))
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
    from perception.factory import find_pretrained

    find_pretrained()  # a malformed LANGSTACK_CLIP_PRETRAINED fails here, whatever reads
    if choice in (READER, *DETECTOR_RECIPES):
        return
    if not Path(choice).is_dir():
        raise UsageError(f"--detector: {choice!r} is neither a recipe "
                         f"({', '.join((*DETECTOR_RECIPES, READER))}) nor a directory")
    try:
        check_detector_dir(Path(choice))
    except (ValueError, OSError) as exc:
        raise UsageError(f"--detector: {one_line(exc)}") from None


def load_video_detector(choice: str, progress: bool = True) -> Any:
    """The detector that reads videos: a recipe's cached build or a checkpoint directory."""
    from perception import load_detector

    try:
        if choice == READER:
            from experiments.imitation.reader_build import ensure_reader
            from perception.loader import announce
            from perception.reader import VideoReader

            return VideoReader.load(ensure_reader(progress=progress, say=announce))
        if choice in DETECTOR_RECIPES:
            return load_detector(None, device="cpu", build_if_missing=True, progress=progress,
                                 recipe=choice)
        if not Path(choice).is_dir():
            raise UsageError(f"--detector: {choice!r} is neither a recipe "
                             f"({', '.join((*DETECTOR_RECIPES, READER))}) nor a directory")
        from perception.reader import VideoReader, is_reader

        if is_reader(choice):
            return VideoReader.load(choice, device="cpu")
        return load_detector(choice, device="cpu")
    except (FileNotFoundError, ValueError, KeyError) as exc:
        raise UsageError(f"--detector: {exc}") from None


def _human_plan(result: dict[str, Any]) -> str:
    lines = [f"video: {result['video']} ({result['frames_total']} frames, "
             f"{result['frames_scored']} scored, {result['views']} view(s) each)"]
    lines += [f"  frame {c['frame']:>4}: {c['moves']}" for c in result["changes"]]
    lines.append(f"plan (confidence {result['confidence']:.2f}"
                 + ("" if result["readable"] else ", NOT READABLE") + "):")
    lines += [f"  {i}. {c}" for i, c in enumerate(result["plan"], 1)] or ["  (empty)"]
    return "\n".join(lines)


def _human(result: dict[str, Any]) -> str:
    lines = [_human_plan(result)]
    wins = sum(o["success"] for o in result["outcomes"])
    lines.append(f"executed by {result['run_dir']} (detector {result['execution_detector']}) in "
                 f"{result['episodes']} fresh scene(s): success {wins}/{result['episodes']}")
    return "\n".join(lines)
