"""``langstack bench sim|perception``: speed benchmarks measured in one run on this machine."""
from __future__ import annotations

import argparse
import importlib

TARGETS = {
    "sim": ("experiments.bench.sim", "physics, primitives and rendering vs panda-gym's PandaStack-v3"),
    "perception": ("experiments.bench.perception", "batched CLIP scoring throughput (frames/s)"),
    "collect": ("experiments.bench.collect", "Collect & Infer collection env steps/s, 1 vs N actors"),
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="speed benchmarks (sim, perception)",
                       description="Speed benchmarks, measured in one run on this machine.")
    targets = p.add_subparsers(dest="target", metavar="TARGET", parser_class=type(p))
    targets.required = True
    for name, (module_name, help_text) in TARGETS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue  # not built yet
            raise
        t = targets.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(t)
        t.set_defaults(func=module.run)
