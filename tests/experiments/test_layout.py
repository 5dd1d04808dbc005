"""The layout's import arrows (DESIGN.md, "Layout"), read from the source with ``ast``.

Nothing is imported or run: every ``import`` of sim/, perception/, planner/, policy/ and
experiments/ (module level and inside functions), and every literal
``importlib.import_module`` name, is checked against the stated directions. A failure names
file:line and the rule. The ``test_the_checker_*`` tests feed synthetic sources to prove
that each rule can fail.
"""
from __future__ import annotations

import ast
import functools
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("sim", "perception", "planner", "policy", "experiments")

PACKAGE_ARROWS: dict[str, frozenset[str]] = {
    "sim": frozenset(),
    "perception": frozenset({"sim"}),
    "planner": frozenset({"perception"}),
    "policy": frozenset(),
    "experiments": frozenset({"sim", "perception", "planner", "policy"}),
}
"""The other top-level packages each package may import (nothing imports experiments)."""

PERCEPTION_USES_SIM = frozenset({"perception.dataset"})
"""perception -> sim is dataset generation: the env, the scripted expert and the seed
registry (``sim.seeds``) are read by perception.dataset and by no other perception module..."""

SIM_VOCABULARY = frozenset({"sim.objects", "sim.predicates"})
"""...except the world's vocabulary (the colours and predicate keys, whose one home is sim),
which perception.captions builds its captions from (these modules load no pybullet)."""

PLANNER_READS = frozenset({"perception.captions", "perception.hub"})
"""planner -> perception is the caption vocabulary (sub-goal captions have one home),
imported from perception.captions itself, and perception.hub (whether pretrained weights may
be downloaded now, shared with the CLIP side; it imports neither torch nor the detector): the
planner never reaches the detector side."""

EXPERIMENT_ARROWS: dict[str, frozenset[str]] = {
    "": frozenset(),  # experiments/__init__.py: the package docstring only
    "cli": frozenset({"collect_infer", "imitation", "paper", "bench", "data"}),
    "paper": frozenset({"collect_infer", "imitation"}),
    "imitation": frozenset({"collect_infer"}),
    "bench": frozenset({"collect_infer"}),
    "data": frozenset({"collect_infer"}),
    "collect_infer": frozenset(),
}
"""The other experiments subpackages each subpackage may import; only cli imports cli."""

PYBULLET_OWNERS: dict[str, frozenset[str]] = {
    "pybullet": frozenset({"sim.bullet"}),
    "pybullet_utils": frozenset({"sim.bullet"}),
    "pybullet_data": frozenset({"sim.bullet", "sim.assets"}),
}
"""Only sim/ imports pybullet, and one module there (sim.bullet) owns the client; sim.assets
reads pybullet_data's asset directory."""

MAX_EXPERIMENT_LINES = 300
RULES = ("packages", "experiments", "private", "pybullet", "length")


@dataclass(frozen=True)
class Source:
    """One Python file of ours: its repo-relative path, dotted module name and text."""

    path: str
    module: str
    is_package: bool
    text: str


@dataclass(frozen=True)
class Edge:
    """One import: the module imported (or imported from) and the name taken, if any."""

    target: str
    name: str | None
    line: int


@dataclass(frozen=True)
class Violation:
    """A broken rule at file:line."""

    path: str
    line: int
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: [{self.rule}] {self.message}"


def our_sources() -> list[Source]:
    """Every .py file under the five packages."""
    sources = []
    for package in PACKAGES:
        for file in sorted((REPO / package).rglob("*.py")):
            rel = file.relative_to(REPO)
            is_package = rel.name == "__init__.py"
            parts = rel.parts[:-1] if is_package else (*rel.parts[:-1], rel.stem)
            sources.append(Source(rel.as_posix(), ".".join(parts), is_package, file.read_text()))
    return sources


def is_private(name: str) -> bool:
    """A leading-underscore name that is not a dunder."""
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _from_base(src: Source, node: ast.ImportFrom) -> str:
    """The absolute module of ``from <base> import ...`` (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    parts = src.module.split(".") if src.is_package else src.module.split(".")[:-1]
    parts = parts[:len(parts) - node.level + 1]
    return ".".join([*parts, node.module] if node.module else parts)


def _import_module_target(node: ast.Call) -> str | None:
    """The (leading constant part of the) name passed to ``importlib.import_module``."""
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    if name != "import_module" or not node.args:
        return None
    arg = node.args[0]
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value
    if isinstance(arg, ast.JoinedStr) and arg.values and isinstance(arg.values[0], ast.Constant):
        return str(arg.values[0].value).rstrip(".") or None
    return None


def edges(src: Source, tree: ast.AST, modules: frozenset[str]) -> list[Edge]:
    """Every import in ``tree``; ``from a import b`` targets ``a.b`` when that is a module."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [Edge(alias.name, None, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _from_base(src, node)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.append(Edge(full if full in modules else base, alias.name, node.lineno))
        elif isinstance(node, ast.Call) and (target := _import_module_target(node)):
            found.append(Edge(target, None, node.lineno))
    return found


def _package_arrow(src: Source, edge: Edge) -> str | None:
    """Why ``edge`` breaks the arrows between top-level packages, or None."""
    mine, theirs = src.module.split(".")[0], edge.target.split(".")[0]
    if theirs not in PACKAGES or theirs == mine:
        return None
    if theirs == "experiments":
        return f"nothing outside experiments imports experiments ({edge.target})"
    if theirs not in PACKAGE_ARROWS[mine]:
        return f"{mine} must not import {theirs} ({edge.target})"
    if (mine, theirs) == ("perception", "sim") and src.module not in PERCEPTION_USES_SIM \
            and not (src.module == "perception.captions" and edge.target in SIM_VOCABULARY):
        return (f"perception -> sim is dataset generation only "
                f"({sorted(PERCEPTION_USES_SIM)}), not {src.module} ({edge.target})")
    if (mine, theirs) == ("planner", "perception") and edge.target not in PLANNER_READS:
        return f"planner reads only {sorted(PLANNER_READS)} of perception, not {edge.target}"
    return None


def _subpackage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _experiment_arrow(src: Source, edge: Edge) -> str | None:
    """Why ``edge`` breaks the arrows between experiments' subpackages, or None."""
    if not (src.module.startswith("experiments") and edge.target.startswith("experiments.")):
        return None
    mine, theirs = _subpackage(src.module), _subpackage(edge.target)
    if mine == theirs:
        return None
    if mine not in EXPERIMENT_ARROWS:
        return f"experiments.{mine} is not in the layout's table of arrows (test_layout.py)"
    if theirs == "cli":
        return f"nothing outside experiments.cli imports it ({edge.target})"
    if theirs not in EXPERIMENT_ARROWS[mine]:
        allowed = ", ".join(sorted(EXPERIMENT_ARROWS[mine])) or "no other subpackage"
        return f"experiments.{mine} may import {allowed}; not {edge.target}"
    return None


def _pybullet(src: Source, edge: Edge) -> str | None:
    """Why ``edge`` breaks "only sim/ imports pybullet", or None."""
    owners = PYBULLET_OWNERS.get(edge.target.split(".")[0])
    if owners is None or src.module in owners:
        return None
    return (f"{edge.target} is imported only by {', '.join(sorted(owners))} (only sim/ imports "
            f"pybullet; sim.bullet owns the client)")


def _private_import(src: Source, edge: Edge) -> str | None:
    """Why ``edge`` imports another module's private name, or None."""
    if edge.name is None or not is_private(edge.name):
        return None
    if edge.target.split(".")[0] not in PACKAGES:
        return None
    return f"private name {edge.name} imported from {edge.target}: make it public or keep it there"


def _module_aliases(src: Source, tree: ast.AST, modules: frozenset[str]) -> dict[str, str]:
    """Local names bound to modules of ours by the file's imports."""
    aliases = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                local = alias.asname or alias.name.split(".")[0]
                aliases[local] = alias.name if alias.asname else local
        elif isinstance(node, ast.ImportFrom):
            base = _from_base(src, node)
            for alias in node.names:
                if f"{base}.{alias.name}" in modules:
                    aliases[alias.asname or alias.name] = f"{base}.{alias.name}"
    return {k: v for k, v in aliases.items() if v.split(".")[0] in PACKAGES}


def _dotted(node: ast.expr) -> list[str] | None:
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Attribute) and (head := _dotted(node.value)) is not None:
        return [*head, node.attr]
    return None


def private_attributes(src: Source, tree: ast.AST, modules: frozenset[str]) -> list[Violation]:
    """``module._name`` where ``module`` is an imported module of ours (not this one)."""
    aliases = _module_aliases(src, tree, modules)
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Attribute) and is_private(node.attr)):
            continue
        parts = _dotted(node.value)
        if not parts or parts[0] not in aliases:
            continue
        owner = ".".join([aliases[parts[0]], *parts[1:]])
        if owner in modules and owner != src.module:
            found.append(Violation(src.path, node.lineno, "private",
                                   f"private attribute {owner}.{node.attr} used from outside"))
    return found


EDGE_RULES = (("packages", _package_arrow), ("experiments", _experiment_arrow),
              ("pybullet", _pybullet), ("private", _private_import))


def check(src: Source, modules: frozenset[str]) -> list[Violation]:
    """Every rule ``src`` breaks; ``modules`` is the set of our dotted module names."""
    tree = ast.parse(src.text, filename=src.path)
    found = [Violation(src.path, edge.line, rule, message)
             for edge in edges(src, tree, modules)
             for rule, why in EDGE_RULES if (message := why(src, edge)) is not None]
    found = [*dict.fromkeys(found), *private_attributes(src, tree, modules)]
    lines = len(src.text.splitlines())
    if src.module.startswith("experiments") and lines > MAX_EXPERIMENT_LINES:
        found.append(Violation(src.path, lines, "length",
                               f"{lines} lines; an experiments file has at most "
                               f"{MAX_EXPERIMENT_LINES} (split it by job)"))
    return found


@functools.lru_cache(maxsize=1)
def tree_violations() -> tuple[Violation, ...]:
    """Every violation in the repository (parsed once per test session)."""
    sources = our_sources()
    modules = frozenset(s.module for s in sources)
    return tuple(v for src in sources for v in check(src, modules))


@pytest.mark.parametrize("rule", RULES)
def test_the_tree_keeps_the_rule(rule: str) -> None:
    found = [str(v) for v in tree_violations() if v.rule == rule]
    assert not found, f"{len(found)} violation(s) of [{rule}]:\n" + "\n".join(found)


def test_the_tree_is_found() -> None:
    modules = {s.module for s in our_sources()}
    assert {"sim.bullet", "perception.dataset", "planner.grammar", "policy.model",
            "experiments.cli", "experiments.collect_infer.loop"} <= modules


SYNTHETIC_MODULES = frozenset({
    "sim", "sim.bullet", "sim.world", "sim.seeds", "perception", "perception.captions",
    "perception.dataset", "perception.detector", "perception.factory", "planner",
    "planner.grammar", "policy", "policy.model", "experiments", "experiments.cli",
    "experiments.cli.util", "experiments.cli.train", "experiments.paper",
    "experiments.paper.reuse", "experiments.imitation", "experiments.imitation.frames",
    "experiments.collect_infer", "experiments.collect_infer.agent", "experiments.bench",
    "experiments.bench.sim"})


def synthetic(module: str, text: str) -> Source:
    """A made-up file of module ``module`` holding ``text``."""
    return Source(module.replace(".", "/") + ".py", module, False, text)


@pytest.mark.parametrize("module, text, rule", [
    ("sim.world", "import perception\n", "packages"),
    ("sim.world", "def f():\n    from experiments.cli import util\n", "packages"),
    ("policy.model", "from planner import make_planner\n", "packages"),
    ("policy.model", "import sim.world\n", "packages"),
    ("perception.detector", "from sim import make_env\n", "packages"),
    ("perception.detector", "from sim.seeds import PERCEPTION\n", "packages"),
    ("perception.dataset", "from planner import make_planner\n", "packages"),
    ("planner.grammar", "from perception.detector import Detector\n", "packages"),
    ("planner.grammar", "from perception import COLORS\n", "packages"),
    ("planner.grammar", "import experiments\n", "packages"),
    ("experiments.collect_infer.agent", "from experiments.paper import reuse\n", "experiments"),
    ("experiments.bench.sim", "from experiments.cli.util import emit\n", "experiments"),
    ("experiments.bench.sim", "from ..cli.util import emit\n", "experiments"),
    ("experiments.imitation.frames", "def f():\n    import experiments.paper.reuse\n",
     "experiments"),
    ("experiments.paper.reuse", "from experiments.bench import sim\n", "experiments"),
    ("experiments.newjob.thing", "from experiments.collect_infer import agent\n", "experiments"),
    ("experiments.paper.reuse", "importlib.import_module(f'experiments.cli.{x}')\n",
     "experiments"),
    ("perception.detector", "from perception.factory import _quiet\n", "private"),
    ("experiments.cli.util", "from experiments.cli.train import _check_task\n", "private"),
    ("perception.detector", "import perception.factory as f\nf._quiet()\n", "private"),
    ("perception.detector", "from perception import factory\nfactory._quiet()\n", "private"),
    ("perception.detector", "import perception.factory\nperception.factory._quiet()\n",
     "private"),
    ("perception.dataset", "import pybullet\n", "pybullet"),
    ("experiments.bench.sim", "def f():\n    from pybullet_utils import bullet_client\n",
     "pybullet"),
    ("sim.world", "import pybullet_data\n", "pybullet"),
    ("experiments.bench.sim", "x = 1\n" * 301, "length"),
])
def test_the_checker_catches(module: str, text: str, rule: str) -> None:
    found = check(synthetic(module, text), SYNTHETIC_MODULES)
    assert [v.rule for v in found] == [rule], [str(v) for v in found]


@pytest.mark.parametrize("module, text", [
    ("perception.dataset", "from sim import make_env\nfrom sim.seeds import PERCEPTION\n"),
    ("planner.grammar", "from perception.captions import COLORS\n"),
    ("planner.grammar", "from perception import captions\n"),
    ("experiments.cli.train", "from experiments.paper import reuse\nimport experiments.cli.util\n"),
    ("experiments.paper.reuse", "from experiments.imitation import frames\nimport experiments\n"),
    ("experiments.bench.sim", "from experiments.collect_infer.agent import Agent\nimport sim\n"),
    ("experiments.collect_infer.agent", "from .. import collect_infer\nfrom . import agent\n"),
    ("sim.bullet", "import pybullet\nfrom pybullet_utils import bullet_client\n"),
    ("sim.world", "from sim.bullet import Bullet\nimport numpy as np\nnp._private()\n"),
    ("sim.world", "from __future__ import annotations\nimport sim\nsim.__name__\n"),
    ("experiments.cli.util", "import argparse\nargparse._SubParsersAction\n"),
    ("experiments.bench.sim", "x = 1\n" * 300),
])
def test_the_checker_allows(module: str, text: str) -> None:
    found = check(synthetic(module, text), SYNTHETIC_MODULES)
    assert not found, [str(v) for v in found]


def test_a_violation_names_file_line_and_rule() -> None:
    source = synthetic("policy.model", "import torch\n\ndef f():\n    import sim\n")
    (found,) = check(source, SYNTHETIC_MODULES)
    assert str(found) == "policy/model.py:4: [packages] policy must not import sim (sim)"
