"""The agent: a plan of sub-goal captions, a detector's view of which hold, and the policy.

Scheduling is read off the detections after every step, never off the simulator: the current
sub-goal is the first one in the plan that is not achieved. An on-top sub-goal is achieved
while it is detected; a grasp sub-goal while it is detected, or once the on-top sub-goal right
after it (which consumes the grasp) is detected. So the agent moves to the next sub-goal as
soon as the current one is detected, and falls back when, say, a placed cube was dropped
beside its target (the grasp must be redone) or a tower fell.

Setting down: when the plan falls back to grasping a cube while the robot is seen holding
another (a tower it had built fell, or the detector lost sight of it, as the arm carried the
next cube), no action can achieve the grasp: with a cube in hand the next action places it,
and the policy, asked to grasp a cube it was never seen grasping from such a state, put the
held cube on the one to grasp and looped until the horizon. The agent then sets the held cube
down on the free spot of the table rectangle farthest from every cube (a fixed rule, not a
learned skill: the captions have no "on the table"), and the plan resumes with empty hands.
Greedy acting does this unless ``set_down_greedy`` is False (the reproductions that compare
agents evaluate the learned policy alone, as the other agents have no such rule); exploring
does it unless ``set_down_exploring`` is False. Then
the policy acts with the wrong cube in hand, as the paper's agent (which had no such rule) did,
and where it puts that cube is data for other tasks' sub-goals: a wrong green grasp while
pursuing "grasping red" mostly ends as green on red (lifelong data reuse, docs/results.md).
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from perception.captions import GRASP_RE, ON_TOP_RE
from policy.layout import OBJECT_SLOTS, POS_DIM, objects_slice

EXPLORE_SCALE = 20.0
"""Successes of a goal after which its random-action probability has fallen to 1/sqrt(2)."""


class SubgoalAgent:
    """Pursues a plan of captions with a goal-conditioned policy.

    Args:
        plan: sub-goal captions in order (from the planner).
        goal_embeddings: caption -> text embedding (the policy's goal input).
        policy: a ``policy.TransformerPolicy``.
        explore_low, explore_high: the (x, y) box random actions are drawn from (the table
            rectangle where cubes spawn; the policy itself may act up to the wider action box).
        explore_eps: the floor of the probability of a uniform random action when exploring.
        rng: the agent's random generator (exploration and sampling).
        set_down_exploring: whether exploring sets a wrongly held cube down (module notes).
        set_down_greedy: whether greedy acting does.

    Exploration is per sub-goal and count-based: with ``n`` labelled successes of goal g so
    far, the agent acts uniformly at random with probability ``max(explore_eps,
    1 / sqrt(1 + n / EXPLORE_SCALE))`` and otherwise samples the policy. A skill never seen
    to succeed is explored like the uniform random policy; a learned one mostly exploits.
    (A fixed 10% floor alone left on-top sub-goals at ~1 success per 1,300 env steps in
    Triple Stack: the policy acted confidently, and wrongly, on goals it had no data for.)
    """

    def __init__(self, plan: Sequence[str], goal_embeddings: Mapping[str, np.ndarray],
                 policy, explore_low: np.ndarray, explore_high: np.ndarray,
                 explore_eps: float = 0.1, rng: np.random.Generator | None = None,
                 set_down_exploring: bool = True, set_down_greedy: bool = True) -> None:
        if not plan:
            raise ValueError("the agent needs at least one sub-goal")
        missing = [g for g in plan if g not in goal_embeddings]
        if missing:
            raise ValueError(f"no goal embedding for {missing}")
        self.plan = list(plan)
        self.goal_embeddings = goal_embeddings
        self.policy = policy
        self.low, self.high = np.asarray(explore_low), np.asarray(explore_high)
        self.explore_eps = explore_eps
        self.rng = rng or np.random.default_rng()
        self.set_down_exploring = set_down_exploring
        self.set_down_greedy = set_down_greedy
        self.success_counts: dict[str, int] = {}
        """Labelled successes per goal so far (set by the learner each round)."""
        self.index = 0
        self.holding = False
        """Whether the robot was seen grasping a cube after the last step."""

    def reset(self) -> None:
        """Start the plan again."""
        self.index = 0
        self.holding = False

    @property
    def done(self) -> bool:
        """Every sub-goal is achieved (as detected)."""
        return self.index >= len(self.plan)

    @property
    def current(self) -> str:
        """The sub-goal being pursued."""
        return self.plan[min(self.index, len(self.plan) - 1)]

    def update(self, detected: set[str]) -> None:
        """Re-read the plan's progress from the captions detected after the last step."""
        self.index = next((i for i in range(len(self.plan)) if not self._achieved(i, detected)),
                          len(self.plan))
        self.holding = any(GRASP_RE.match(c) for c in detected)

    @property
    def must_set_down(self) -> bool:
        """The current sub-goal grasps a cube while another is held (see the module notes)."""
        return self.holding and not self.done and bool(GRASP_RE.match(self.current))

    def _achieved(self, i: int, detected: set[str]) -> bool:
        goal = self.plan[i]
        if goal in detected:
            return True
        grasped = GRASP_RE.match(goal)
        if grasped and i + 1 < len(self.plan):
            on_top = ON_TOP_RE.match(self.plan[i + 1])
            return bool(on_top and on_top.group(1) == grasped.group(1)
                        and self.plan[i + 1] in detected)
        return False

    def exploration(self, goal: str) -> float:
        """Probability of a uniform random action while pursuing ``goal``."""
        n = self.success_counts.get(goal, 0)
        return max(self.explore_eps, 1.0 / np.sqrt(1.0 + n / EXPLORE_SCALE))

    def act(self, state: np.ndarray, explore: bool) -> np.ndarray:
        """The next (x, y) action for the current sub-goal (sampled when exploring)."""
        if explore and self.rng.random() < self.exploration(self.current):
            return self.rng.uniform(self.low, self.high).astype(np.float32)
        if self.must_set_down and (self.set_down_exploring if explore else self.set_down_greedy):
            return free_spot(state, self.low, self.high)
        goal = self.goal_embeddings[self.current]
        gen = None
        if explore:
            import torch

            gen = torch.Generator().manual_seed(int(self.rng.integers(2**62)))
        action = self.policy.act(state[None], goal[None], greedy=not explore, generator=gen)
        return np.asarray(action, dtype=np.float32).reshape(2)


def free_spot(state: np.ndarray, low: np.ndarray, high: np.ndarray, n: int = 9) -> np.ndarray:
    """The point of an ``n`` x ``n`` grid over the (x, y) box farthest from every object."""
    objects = np.asarray(state)[objects_slice(OBJECT_SLOTS)].reshape(-1, POS_DIM)[:, :2]
    gx, gy = np.meshgrid(np.linspace(low[0], high[0], n), np.linspace(low[1], high[1], n))
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1)
    clearance = np.linalg.norm(grid[:, None, :] - objects[None], axis=2).min(axis=1)
    return grid[int(np.argmax(clearance))].astype(np.float32)
