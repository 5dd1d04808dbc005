"""Shared CLI conventions: human output by default, ``--json`` last line, exit 2 on bad input."""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any


class UsageError(Exception):
    """Bad user input: reported as one line on stderr with exit code 2 (never a traceback)."""


INPUT_ERRORS: tuple[type[BaseException], ...] = (
    UsageError, ValueError, FileNotFoundError, FileExistsError, NotADirectoryError,
    IsADirectoryError, PermissionError)
"""What library code raises for bad input; the CLI reports each as one line and exit code 2.
Anything else is a bug and keeps its traceback."""


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


def add_explore_held(parser: argparse.ArgumentParser, default: str) -> None:
    """--explore-held: what exploring does with a cube held against the plan
    (``TrainConfig.set_down_exploring``)."""
    parser.add_argument(
        "--explore-held", choices=EXPLORE_HELD, default=default,
        help="while exploring, a cube held against the plan (a wrong grasp) is set down on a "
             "free spot (set-down) or the policy acts with it in hand, as the paper's agent "
             f"does (policy); greedy acting always sets it down (default {default})")


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


def parse_task(instruction: str):
    """The sim Task an instruction names, or a UsageError saying what is understood."""
    from sim import task_from_instruction

    try:
        return task_from_instruction(instruction)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def say(message: str) -> None:
    """A status line for humans, on stderr so that stdout stays parseable."""
    print(message, file=sys.stderr, flush=True)
