"""Scripted oracles: read the true state and return the next pick or place position.

``expert_action`` solves the env's task; ``random_expert_action`` is a purposeful random
actor (pick a random cube, put it on a random cube or table spot) used to visit diverse
scenes for data generation.
"""
from __future__ import annotations

import numpy as np

from sim.env import StackingEnv
from sim.objects import COLORS
from sim.predicates import on_top_key
from sim.tasks import Task
from sim.world import Scene

DEFAULT_TOWER = (("green", "blue"), ("red", "green"))
"""Triple Stack's tower when nothing is stacked yet: blue at the bottom, then green, then red
(the planner's canonical decomposition)."""


def expert_action(env: StackingEnv) -> np.ndarray:
    """The next action of a scripted expert for ``env``'s task (reads the true state)."""
    env = env.unwrapped  # type: ignore[assignment]
    assert env.task is not None, "reset() the env first"
    scene = env.scene()
    pairs = target_pairs(env.task, scene)
    grasp_goal = env.task.grasp
    if scene.held is not None:
        for x, y in pairs:
            if x == scene.held and _ready(scene, pairs, y) and scene.above(y) is None:
                return _xy(scene, y)
        return _free_spot(env, scene)  # not wanted where it is held: put it down
    for x, y in pairs:
        if _satisfied(scene, pairs, x, y):
            continue
        if not _ready(scene, pairs, y):
            continue
        if scene.above(y) is not None:
            return _xy(scene, scene.top_of_stack(y))  # clear the destination
        if scene.above(x) is not None:
            return _xy(scene, scene.top_of_stack(x))  # clear the cube to move
        return _xy(scene, x)
    if grasp_goal is not None:
        return _xy(scene, scene.top_of_stack(grasp_goal))
    return _xy(scene, COLORS[0])  # task already solved: any harmless action


def random_expert_action(env: StackingEnv, rng: np.random.Generator) -> np.ndarray:
    """Pick a random clear cube, or put the held one on a random clear cube or table spot."""
    env = env.unwrapped  # type: ignore[assignment]
    scene = env.scene()
    clear = [c for c in COLORS if scene.above(c) is None and c != scene.held]
    if scene.held is None:
        return _xy(scene, clear[rng.integers(len(clear))])
    if clear and rng.random() < 0.5:
        return _xy(scene, clear[rng.integers(len(clear))])
    ws = env.config.workspace
    lo, hi = ws.low + ws.spawn_margin, ws.high - ws.spawn_margin
    return rng.uniform(lo, hi).astype(np.float32)


def target_pairs(task: Task, scene: Scene) -> list[tuple[str, str]]:
    """The (x on y) pairs the expert builds, bottom-up."""
    if task.triple:
        for a in COLORS:
            b = scene.below(a)
            if b is not None and scene.below(b) is None and scene.held != a:
                c = next(c for c in COLORS if c not in (a, b))
                return [(a, b), (c, a)]
        return list(DEFAULT_TOWER)
    return _bottom_up(list(task.stacks))


def _bottom_up(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    tops = {x for x, _ in pairs}
    ordered: list[tuple[str, str]] = []
    frontier = [p for p in pairs if p[1] not in tops]
    while frontier:
        p = frontier.pop(0)
        ordered.append(p)
        frontier += [q for q in pairs if q[1] == p[0] and q not in ordered]
    return ordered + [p for p in pairs if p not in ordered]


def _satisfied(scene: Scene, pairs: list[tuple[str, str]], x: str, y: str) -> bool:
    return scene.predicates[on_top_key(x, y)] and _ready(scene, pairs, y)


def _ready(scene: Scene, pairs: list[tuple[str, str]], y: str) -> bool:
    """``y`` is where the plan wants it (its own support goal, if any, holds)."""
    below = next((b for a, b in pairs if a == y), None)
    return below is None or _satisfied(scene, pairs, y, below)


def _xy(scene: Scene, cube: str) -> np.ndarray:
    return scene.positions[cube][:2].astype(np.float32)


def _free_spot(env: StackingEnv, scene: Scene) -> np.ndarray:
    """The spawn-area grid point farthest from every cube but the held one."""
    ws = env.config.workspace
    lo, hi = ws.low + ws.spawn_margin, ws.high - ws.spawn_margin
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 9), np.linspace(lo[1], hi[1], 9))
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1)  # (81, 2)
    others = np.array([p[:2] for c, p in scene.positions.items() if c != scene.held])
    dist = np.linalg.norm(grid[:, None, :] - others[None, :, :], axis=-1).min(axis=1)
    return grid[int(np.argmax(dist))].astype(np.float32)
