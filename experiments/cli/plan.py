"""``langstack plan "INSTRUCTION"``: decompose an instruction into sub-goal captions."""
from __future__ import annotations

import argparse

from experiments.cli.hub import add_offline_flag, apply_hub_flags
from experiments.cli.util import UsageError, add_json_flag, emit, say


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``plan`` command."""
    from planner.factory import KINDS
    from planner.flan_t5 import DEFAULT_MODEL

    p = subparsers.add_parser(
        "plan",
        help="decompose an instruction into sub-goal captions",
        description=(
            "Turn an instruction (e.g. 'stack the red block on the blue block') into the sub-goal "
            "captions the detector scores. FLAN-T5 with a few-shot prompt when its weights are "
            "here or can be downloaded (on first use, into the Hugging Face cache; not with "
            "--offline), otherwise a deterministic grammar planner."
        ),
    )
    p.add_argument("instruction", help='what the robot should do, e.g. "pick up the red cube"')
    p.add_argument(
        "--planner", choices=KINDS, default="auto",
        help="auto: FLAN-T5 if its weights are here or downloadable, else the grammar planner "
             "(default: auto); flan-t5: FLAN-T5 or an error saying how to get the weights",
    )
    p.add_argument(
        "--model", default=None, metavar="ID_OR_DIR",
        help=f"FLAN-T5 model id on the Hugging Face hub (cached, or downloaded on first use) or "
             f"a local directory (default: {DEFAULT_MODEL})",
    )
    add_offline_flag(p)
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Plan ``args.instruction``; bad input or missing weights -> ``UsageError`` (exit 2)."""
    from planner.base import PlannerError, PlannerUnavailable
    from planner.factory import make_planner

    apply_hub_flags(args)
    if args.planner == "grammar" and args.model:
        raise UsageError("--model applies to the flan-t5 (or auto) planner, not to --planner grammar")
    notes: list[str] = []  # auto's "planner: ..." line, shown with a plan (an error stays one line)
    try:
        planner = make_planner(args.planner, args.model, announce=notes.append)
        subgoals = planner.plan(args.instruction)
    except (PlannerUnavailable, PlannerError) as exc:
        raise UsageError(str(exc)) from None
    for note in notes:
        say(note)
    lines = [f"sub-goals ({planner.name} planner):"]
    lines += [f"  {i}. {c}" for i, c in enumerate(subgoals, 1)]
    emit({"planner": planner.name, "subgoals": subgoals}, args.json, "\n".join(lines))
    return 0
