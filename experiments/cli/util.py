"""Shared CLI conventions: human output by default, ``--json`` last line, exit 2 on bad input."""
from __future__ import annotations

import argparse
import json
import math
import re
import sys
from pathlib import Path
from typing import Any


class UsageError(Exception):
    """Bad user input: reported as one line on stderr with exit code 2 (never a traceback)."""


INPUT_ERRORS: tuple[type[BaseException], ...] = (
    UsageError, ValueError, FileNotFoundError, FileExistsError, NotADirectoryError,
    IsADirectoryError, PermissionError)
"""What library code raises for bad input; the CLI reports each as one line and exit code 2
(so does ``planner.PlannerUnavailable``, see :func:`is_input_error`). Anything else is a bug
and keeps its traceback."""


def is_input_error(exc: BaseException) -> bool:
    """Whether ``exc`` reports bad input: one of INPUT_ERRORS, or the planner asked for has
    no weights here (``planner.base.PlannerUnavailable``, looked up only if the planner was
    imported, so that building the CLI stays light)."""
    if isinstance(exc, INPUT_ERRORS):
        return True
    cluster = sys.modules.get("experiments.collect_infer.cluster")
    if cluster is not None and isinstance(exc, cluster.ClusterError):
        return True  # the Ray cluster named by --ray-address / RAY_ADDRESS cannot be used
    planner_base = sys.modules.get("planner.base")
    return planner_base is not None and isinstance(exc, planner_base.PlannerUnavailable)


RUN_NAME = re.compile(r"[a-z0-9-]*__[a-z-]+__[0-9]+")
"""``<task>__<agent or variant>__<seed>``: a run under a reproduce command's OUT/runs/."""


def one_line(exc: BaseException) -> str:
    """An exception's message folded onto one line (a path or value it names included)."""
    text = " ".join(str(exc).split())
    if isinstance(exc, OSError) and exc.filename is not None and str(exc.filename) not in text:
        text = f"{text}: {exc.filename}"
    return text or type(exc).__name__


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    """Add the standard ``--json`` flag to a sub-command parser."""
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object as the last line of stdout (machine-readable result)",
    )


EXPLORE_HELD = ("set-down", "policy")


def add_explore_held(parser: argparse.ArgumentParser, default: str, unset: bool = False) -> None:
    """--explore-held: what exploring does with a cube held against the plan
    (``TrainConfig.set_down_exploring``). ``unset``: the parsed value is None unless given
    (the command applies ``default`` itself)."""
    parser.add_argument(
        "--explore-held", choices=EXPLORE_HELD, default=None if unset else default,
        help="while exploring, a cube held against the plan (a wrong grasp) is set down on a "
             "free spot (set-down) or the policy acts with it in hand, as the paper's agent "
             f"does (policy); greedy acting sets it down, except in the reproductions that "
             f"compare agents (default {default})")


def add_ray_address(parser: argparse.ArgumentParser) -> None:
    """--ray-address: the Ray cluster the N > 1 actors run on (see :func:`ray_address`)."""
    parser.add_argument(
        "--ray-address", metavar="HOST:PORT",
        help="run the Ray actors on an existing cluster: the head's address (`ray start "
             "--head` prints it) or auto (the cluster this machine joined); default: "
             "$RAY_ADDRESS if set, else a private local Ray with one CPU per actor. Every "
             "node needs this langstack installed; actors are spread over the nodes")


def ray_address(flag: str | None, actors: int) -> str | None:
    """The checked cluster address for ``actors`` actors (--ray-address, else $RAY_ADDRESS),
    None for a private local Ray or one in-process actor. A malformed address or nothing
    answering as Ray there is a UsageError within seconds."""
    from experiments.collect_infer.cluster import (
        ENV_ADDRESS, ClusterError, check_reachable, resolve_address,
    )

    name = "--ray-address" if flag is not None else ENV_ADDRESS
    try:
        if actors == 1:  # no Ray: $RAY_ADDRESS is not looked at, a given flag must be valid
            if flag is not None:
                resolve_address(flag)
                say("--ray-address: not used: --actors 1 runs one actor in this process")
            return None
        address = resolve_address(flag)
        return None if address is None else check_reachable(address)
    except (ValueError, ClusterError) as exc:
        text = one_line(exc)
        raise UsageError(text if text.startswith(name) else f"{name}: {text}") from None


def emit(result: dict[str, Any], as_json: bool, human: str | None = None) -> None:
    """Print ``human`` (or a key: value listing) and, with ``--json``, the JSON object last."""
    if human is not None:
        print(human)
    elif not as_json:
        for key, value in result.items():
            print(f"{key}: {value}")
    if as_json:
        print(json.dumps(result, default=_jsonable))
    sys.stdout.flush()


def _jsonable(obj: Any) -> Any:
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if hasattr(obj, "__fspath__"):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return value


def finite_float(text: str) -> float:
    """argparse type: a finite number (not nan or inf)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def probability(text: str) -> float:
    """argparse type: a number in [0, 1]."""
    value = finite_float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}")
    return value


def check_task(text: str, planner: str = "auto") -> str:
    """An instruction the planner ``planner`` understands, stripped (UsageError otherwise)."""
    parse_task(text, planner)
    return text.strip()


def check_out_dir(out: Path, own: frozenset[str], flag: str = "--out") -> None:
    """``out`` is new, empty, or holds only outputs of this command (which a re-run reuses):
    refuse a file, a missing parent folder and a folder of anything else."""
    from experiments.collect_infer.rundir import check_creatable

    check_creatable(out, flag)
    if not out.exists():
        return
    foreign = sorted(p.name for p in out.iterdir() if p.name not in own)
    if foreign:
        shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise UsageError(f"{flag} {out} is not empty and holds files this command did not write "
                         f"({shown}): choose a new or empty directory")
    if "runs" in own and (out / "runs").exists():
        _check_stored_runs(out / "runs", flag)


def _check_stored_runs(runs: Path, flag: str) -> None:
    """Every entry of OUT/runs is a run this kind of command made, readable by this version."""
    from experiments.collect_infer.rundir import RunDir

    if not runs.is_dir():
        raise UsageError(f"{flag}: {runs} is not a directory of runs")
    for child in sorted(runs.iterdir()):
        if not child.is_dir() or not RUN_NAME.fullmatch(child.name):
            raise UsageError(f"{flag}: {child} is not a run this command made: choose a new or "
                             "empty directory")
        if RunDir(child).config_path.exists():
            RunDir(child).train_config()
            RunDir(child).records()


def check_video_out(path: Path | str, flag: str) -> Path:
    """An output video path (.mp4/.gif) in an existing folder, not a folder itself."""
    from experiments.collect_infer.video import check_video_path

    try:
        out = check_video_path(path)
    except ValueError as exc:
        raise UsageError(f"{flag}: {exc}") from None
    if out.is_dir():
        raise UsageError(f"{flag}: {out} is a directory, not a video file")
    if out.parent != Path("") and not out.parent.is_dir():
        raise UsageError(f"{flag}: {out.parent} is not a directory")
    return out


def parse_task(instruction: str, planner: str = "auto"):
    """The sim Task an instruction asks for as the planner ``planner`` reads it, or a
    UsageError with the planner's refusal (what it understands)."""
    from experiments.collect_infer.tasks import task_for

    try:
        return task_for(instruction, planner)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def say(message: str) -> None:
    """A status line for humans, on stderr so that stdout stays parseable."""
    print(message, file=sys.stderr, flush=True)

