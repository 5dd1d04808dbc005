"""``langstack bench sim|perception|collect``: speed benchmarks measured in one run on this
machine (the measuring lives in ``experiments.bench``)."""
from __future__ import annotations

import argparse

from experiments.cli import bench_collect, bench_perception, bench_sim

TARGETS = {"sim": bench_sim, "perception": bench_perception, "collect": bench_collect}
"""Each target module has ``HELP``, ``add_arguments(parser)`` and ``run(args)``."""


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``bench`` with one sub-command per target."""
    p = sub.add_parser("bench", help="speed benchmarks (sim, perception, collect)",
                       description="Speed benchmarks, measured in one run on this machine.")
    targets = p.add_subparsers(dest="target", metavar="TARGET", parser_class=type(p))
    targets.required = True
    for name, module in TARGETS.items():
        t = targets.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(t)
        t.set_defaults(func=module.run)
