"""Collector actors: each owns an env, a detector and a copy of the policy.

``--actors 1`` runs one actor in-process; ``--actors N`` (N > 1) runs N Ray actors, each a
process of its own, and the learner broadcasts new weights to all of them after every
behaviour-cloning round.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from experiments.collect_infer.collect import Rollout, run_episode
from experiments.collect_infer.detectors import make_detector

if TYPE_CHECKING:
    from sim.tasks import Task


@dataclass(frozen=True)
class ActorSpec:
    """Everything an actor needs to build itself (picklable: sent to Ray workers)."""

    task: Task
    """What the env rewards (``experiments.collect_infer.tasks.task_for`` of the instruction)."""
    plan: tuple[str, ...]
    goal_embeddings: dict[str, np.ndarray]
    policy_config: dict[str, Any]
    detector: str
    """"clip", "oracle" or "none" (the env-reward baseline)."""
    detector_path: str | None
    horizon: int
    explore_eps: float
    torch_threads: int = 1
    set_down_exploring: bool = True
    """See :class:`experiments.collect_infer.agent.SubgoalAgent`."""
    more_tasks: tuple[tuple[Task, tuple[str, ...]], ...] = ()
    """Further (task, plan) pairs of a multi-skill run: the episode with seed ``s`` runs task
    ``s mod (1 + len(more_tasks))`` (0: ``task``/``plan``)."""

    def task_for(self, seed: int) -> tuple[Task, tuple[str, ...]]:
        """The (task, plan) the episode with ``seed`` runs."""
        tasks = ((self.task, self.plan),) + self.more_tasks
        return tasks[seed % len(tasks)]


class Actor:
    """One collector: env + detector + agent with its own policy copy."""

    def __init__(self, spec: ActorSpec, actor_id: int) -> None:
        import torch

        from experiments.collect_infer.agent import SubgoalAgent
        from policy.model import PolicyConfig, TransformerPolicy
        from sim import EnvConfig, make_env

        torch.set_num_threads(spec.torch_threads)
        self.spec, self.actor_id = spec, actor_id
        render = spec.detector == "clip"
        self.env = make_env(spec.task, EnvConfig(horizon=spec.horizon, render=render))
        self.detector = make_detector(spec.detector, spec.detector_path)
        self.policy = TransformerPolicy(PolicyConfig(**spec.policy_config)).eval()
        ws = self.env.config.workspace  # explore where the cubes spawn
        self.agent = SubgoalAgent(spec.plan, spec.goal_embeddings, self.policy, ws.low, ws.high,
                                  spec.explore_eps, set_down_exploring=spec.set_down_exploring)

    def set_weights(self, weights: dict[str, np.ndarray]) -> None:
        """Load the learner's latest policy weights."""
        import torch

        self.policy.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})

    def collect(self, seeds: list[int], weights: dict[str, np.ndarray] | None,
                counts: dict[str, int] | None = None) -> list[Rollout]:
        """Exploring episodes, one per seed (``counts``: labelled successes per goal)."""
        if weights is not None:
            self.set_weights(weights)
        if counts is not None:
            self.agent.success_counts = dict(counts)
        self.agent.rng = np.random.default_rng(seeds[0] if seeds else 0)
        return [self._episode(s, explore=True,
                              meta={"actor": self.actor_id, "detector": self.spec.detector})
                for s in seeds]

    def evaluate(self, seeds: list[int], weights: dict[str, np.ndarray] | None) -> list[bool]:
        """Greedy success per seed."""
        if weights is not None:
            self.set_weights(weights)
        return [self._episode(s, explore=False).success for s in seeds]

    def _episode(self, seed: int, explore: bool, meta: dict[str, Any] | None = None) -> Rollout:
        task = None
        if self.spec.more_tasks:  # multi-skill run: this seed's task and plan
            task, plan = self.spec.task_for(seed)
            self.agent.plan = list(plan)
        return run_episode(self.env, self.agent, self.detector, seed, explore=explore,
                           meta=meta, task=task)

    def close(self) -> None:
        self.env.close()


class Pending:
    """Work handed to the actors: ``result()`` waits and returns it in seed order."""

    def __init__(self, n_seeds: int, busy: list[int], parts: list, stride: int,
                 remote: bool) -> None:
        self.n_seeds, self.busy, self.parts, self.stride = n_seeds, busy, parts, stride
        self.remote = remote

    def result(self) -> list:
        """The per-seed results (waits for Ray actors)."""
        parts = self.parts
        if self.remote:
            import ray

            parts = ray.get(parts)
        out: list = [None] * self.n_seeds
        for i, part in zip(self.busy, parts):
            out[i::self.stride] = part
        return out


class ActorPool:
    """N actors behind one interface; work is split evenly and gathered in seed order."""

    def __init__(self, spec: ActorSpec, n: int) -> None:
        self.n = n
        if n == 1:
            self._local = Actor(spec, 0)
            self._remote: list[Any] = []
            return
        import ray

        if not ray.is_initialized():
            ray.init(num_cpus=n, include_dashboard=False, log_to_driver=False,
                     configure_logging=False)
        remote_actor = ray.remote(num_cpus=1)(Actor)
        self._remote = [remote_actor.remote(spec, i) for i in range(n)]

    def collect(self, seeds: list[int], weights: dict[str, np.ndarray],
                counts: dict[str, int]) -> list[Rollout]:
        return self.submit_collect(seeds, weights, counts).result()

    def submit_collect(self, seeds: list[int], weights: dict[str, np.ndarray],
                       counts: dict[str, int]) -> "Pending":
        """Start collecting; with Ray actors the caller is free until ``.result()``."""
        return self._submit("collect", seeds, weights, counts)

    def evaluate(self, seeds: list[int], weights: dict[str, np.ndarray]) -> list[bool]:
        return self._submit("evaluate", seeds, weights).result()

    def _submit(self, method: str, seeds: list[int], *args: Any) -> "Pending":
        if self.n == 1:  # in-process: the work runs now, nothing is left pending
            return Pending(len(seeds), [0], [getattr(self._local, method)(seeds, *args)], 1, False)
        import ray

        refs = [ray.put(a) for a in args]
        busy = [i for i in range(self.n) if seeds[i::self.n]]
        parts = [getattr(self._remote[i], method).remote(seeds[i::self.n], *refs) for i in busy]
        return Pending(len(seeds), busy, parts, self.n, True)

    def close(self) -> None:
        if self.n == 1:
            self._local.close()
            return
        import ray

        for a in self._remote:
            ray.kill(a)
