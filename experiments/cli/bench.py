"""``langstack bench sim|perception|reader|collect|world``: benchmarks measured in one run on this
machine (the measuring lives in ``experiments.bench``)."""
from __future__ import annotations

import argparse

from experiments.cli import bench_collect, bench_perception, bench_reader, bench_sim, bench_world

TARGETS = {"sim": bench_sim, "perception": bench_perception, "reader": bench_reader,
           "collect": bench_collect, "world": bench_world}
"""Each target module has ``HELP``, ``add_arguments(parser)`` and ``run(args)``."""


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``bench`` with one sub-command per target."""
    p = sub.add_parser("bench", help="benchmarks: speed (sim, perception, reader, collect) and the "
                                     "world's faithfulness (world)",
                       description="Benchmarks, measured in one run on this machine: speed "
                                   "(sim, perception, reader, collect) and the world as the learner "
                                   "sees it (world).")
    targets = p.add_subparsers(dest="target", metavar="TARGET", parser_class=type(p))
    targets.required = True
    for name, module in TARGETS.items():
        t = targets.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(t)
        t.set_defaults(func=module.run)
