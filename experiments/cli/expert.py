"""``langstack expert``: run the scripted expert on a task, optionally recording a video."""
from __future__ import annotations

import argparse

import numpy as np
from tqdm import tqdm

from experiments.cli.util import (
    add_json_flag, check_video_out, emit, non_negative_int, parse_task, positive_int,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "expert", help="run the scripted expert (reads the true state) on a task",
        description="Run the scripted expert on a task and report its success rate. With "
                    "--video, record the episodes from both cameras (mp4 or gif).")
    p.add_argument("--task", required=True, metavar="INSTRUCTION",
                   help='e.g. "grasp the red object", "stack the red object on top of the blue '
                        'object", "stack all three objects"')
    p.add_argument("--episodes", type=positive_int, default=50, help="episodes to run (default 50)")
    p.add_argument("--seed", type=non_negative_int, default=0, help="first episode seed")
    p.add_argument("--horizon", type=positive_int, default=10, help="steps per episode")
    p.add_argument("--video", metavar="OUT.mp4|OUT.gif", help="record the episodes to this file")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from experiments.collect_infer.video import tile, write_video
    from sim import EnvConfig, make_env
    from sim.expert import expert_action

    task = parse_task(args.task)
    out = check_video_out(args.video, "--video") if args.video else None
    config = EnvConfig(horizon=args.horizon, render=out is not None,
                       motion_frames=6 if out else 0)
    env = make_env(task, config)
    frames: list[np.ndarray] = []
    successes, steps = 0, 0
    for ep in tqdm(range(args.episodes), desc="expert", unit="episode", disable=args.json):
        obs, info = env.reset(seed=args.seed + ep)
        if out:
            frames.append(tile(obs["rgb"]))
        for _ in range(args.horizon):
            obs, reward, terminated, truncated, info = env.step(expert_action(env))
            steps += 1
            if out:
                frames += [tile(f) for f in info["motion_frames"]] + [tile(obs["rgb"])] * 3
            if terminated or truncated:
                break
        successes += int(reward)
    env.close()
    if out:
        write_video(out, frames)
    result = {"task": task.instruction, "episodes": args.episodes,
              "success_rate": successes / args.episodes, "mean_steps": steps / args.episodes}
    if out:
        result["video"] = str(out)
    human = (f"expert on {task.instruction!r}: success {successes}/{args.episodes} "
             f"({result['success_rate']:.0%}), {result['mean_steps']:.2f} steps per episode"
             + (f"; video: {out}" if out else ""))
    emit(result, args.json, human)
    return 0
