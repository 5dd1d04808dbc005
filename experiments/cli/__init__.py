"""``langstack``: the command-line entry point.

Every command prints human output by default and, with ``--json``, one JSON object as the
last line of stdout. Bad input gives one clear line on stderr and exit code 2.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from experiments.cli.util import is_input_error, one_line

# Command-group modules under experiments/cli, each with ``register(subparsers)``.
COMMAND_MODULES: tuple[str, ...] = (
    "expert",
    "sparsity",
    "bench",
    "plan",
    "perception",
    "train",
    "reproduce",
    "run",
    "data",
    "imitate",
)


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad arguments as one line and exit code 2 (its default code)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The full ``langstack`` parser with every available command registered."""
    parser = _Parser(
        prog="langstack",
        description=(
            "Language-centric robot learning: a PyBullet stacking world, CLIP sub-goal detection, "
            "FLAN-T5 planning and Collect & Infer self-imitation."
        ),
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(f"experiments.cli.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = args.func(args)
    except Exception as exc:
        if not is_input_error(exc):
            raise
        print(f"langstack {args.command}: error: {one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("langstack: interrupted", file=sys.stderr)
        return 130
    return int(code or 0)

