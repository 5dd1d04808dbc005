"""``langstack reproduce video``: one-shot imitation from shifted demo videos."""
from __future__ import annotations

import argparse
from pathlib import Path

from experiments.cli.util import (
    add_json_flag, check_out_dir, emit, non_negative_int, parse_task, positive_int, say,
)

DEFAULT_RUN = Path("runs/reproduce/exploration/runs/stack-all-three-objects__framework__0")
"""The Triple Stack run of ``langstack reproduce exploration`` (its policy knows the stacks)."""


def register_experiment(rsub: argparse._SubParsersAction) -> None:
    """Add ``video`` to the ``reproduce`` sub-commands."""
    from experiments.paper.video import DEFAULT_INSTRUCTIONS

    e = rsub.add_parser(
        "video", help="one-shot imitation: plan accuracy and success on shifted demo videos",
        description="For each instruction and seed, renders the scripted expert under visual "
                    "domain shift (other cameras, light and cubes, and the KUKA iiwa in place of "
                    "the Panda; see `langstack demo-video --shift`), reads the plan off the "
                    "video (see `langstack imitate`) and compares it with the planner's plan "
                    "for the instruction. With a run, its policy executes the plan read off each "
                    "video in --episodes fresh scenes; success is judged on the demonstrated "
                    "task. Writes OUT/videos/*.mp4, OUT/video.md and OUT/video.json. JSON last "
                    'line: {"plan_accuracy", "success_rate", "videos": [...], ...}.')
    e.add_argument("--instructions", nargs="+", default=list(DEFAULT_INSTRUCTIONS),
                   metavar="TEXT", help="instructions to demonstrate (default: "
                   + "; ".join(DEFAULT_INSTRUCTIONS) + ")")
    e.add_argument("--seeds", type=positive_int, default=5,
                   help="videos per instruction, each a fresh scene and shifted look (default 5)")
    e.add_argument("--seed", type=non_negative_int, default=0,
                   help="first video seed (default 0); videos use seeds SEED .. SEED+SEEDS-1")
    e.add_argument("--episodes", type=non_negative_int, default=5,
                   help="fresh scenes each video's plan is executed in (default 5; 0: plans only)")
    e.add_argument("--out", type=Path, default=Path("runs/reproduce/video"),
                   help="output directory (default runs/reproduce/video): new, empty or an "
                        "earlier output of this command")
    e.add_argument("--run-dir", type=Path, default=None,
                   help=f"the trained run that imitates (default {DEFAULT_RUN} if it exists; "
                        "without a run only plan accuracy is measured)")
    e.add_argument("--foreign", type=non_negative_int, default=0, metavar="N",
                   help="also N foreign videos per instruction (stacks, towers, a grasp) and "
                        "style split: one camera anywhere, other arms, tables, light, frame "
                        "sizes, idle seconds; the training families and each held-out one "
                        "(sim.styles.HELD_OUT); plan accuracy per split and, with a run, "
                        "execution success (default 0; 2 takes ~4 min here without a run)")
    e.add_argument("--detector", default="reader", metavar="RECIPE|DIR",
                   help="what reads the videos: reader (the default), a detector recipe or a "
                        "directory (see `langstack imitate --help`)")
    add_json_flag(e)
    e.set_defaults(func=run_video_cmd)


OWN_OUTPUTS = frozenset({"videos", "foreign", "video.md", "video.json"})
"""What ``reproduce video`` writes into --out (a re-run overwrites them)."""


def run_video_cmd(args: argparse.Namespace) -> int:
    from experiments.cli.imitate import (
        check_imitating_run, check_video_detector, load_video_detector,
    )
    from experiments.paper.video import run_video_experiment

    instructions = [parse_task(i).instruction for i in args.instructions]
    check_out_dir(args.out, OWN_OUTPUTS)
    run_dir = args.run_dir
    if args.episodes == 0:
        run_dir = None
    elif run_dir is None and (DEFAULT_RUN / "config.json").is_file():
        run_dir = DEFAULT_RUN
    if run_dir is not None:
        from experiments.paper.video import FOREIGN_INSTRUCTIONS

        check_imitating_run(run_dir, instructions
                            + (list(FOREIGN_INSTRUCTIONS) if args.foreign else []))
    check_video_detector(args.detector)
    if run_dir is None:
        say("no run (--episodes 0, or no --run-dir and no exploration Triple Stack run): "
            "measuring plan accuracy only")
    detector = load_video_detector(args.detector, progress=not args.json)
    seeds = range(args.seed, args.seed + args.seeds)
    summary = run_video_experiment(instructions, seeds, args.out, run_dir, args.episodes,
                                   detector, progress=not args.json, foreign=args.foreign)
    human = (args.out / "video.md").read_text() + f"\nwrote {args.out}/video.md, video.json, videos/"
    emit(summary, args.json, human)
    return 0
