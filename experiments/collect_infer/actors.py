"""Collector actors: each owns an env, a detector and a copy of the policy.

``--actors 1`` runs one actor in-process; ``--actors N`` (N > 1) runs N Ray actors, each a
process of its own, on a private local Ray or spread over a cluster's nodes (``--ray-address``,
:mod:`experiments.collect_infer.cluster`). The learner broadcasts new weights to all of them
after every behaviour-cloning round. Ray actors receive everything by value through Ray's
object store (the spec, the detector's checkpoint bytes, the weights), never a local path.
An actor that dies mid-round is replaced by a fresh one built from the same spec, which
collects that actor's seeds again: a round returns every seed's rollout or raises.
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from experiments.collect_infer.cluster import ClusterError, RayTarget, connect
from experiments.collect_infer.collect import Rollout, run_episode
from experiments.collect_infer.detectors import make_detector, read_blob
from experiments.collect_infer.pending import Call, Pending

if TYPE_CHECKING:
    from perception.detector import DetectorBlob
    from sim.tasks import Task

MAX_DEATHS = 3
"""Consecutive deaths of one actor slot (each replaced) before the pool gives up."""


class ActorsLost(ClusterError):
    """An actor slot kept dying: the round cannot be collected."""


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
    set_down_greedy: bool = True
    more_tasks: tuple[tuple[Task, tuple[str, ...]], ...] = ()
    """Further (task, plan) pairs of a multi-skill run: the episode with seed ``s`` runs task
    ``s mod (1 + len(more_tasks))`` (0: ``task``/``plan``)."""

    def task_for(self, seed: int) -> tuple[Task, tuple[str, ...]]:
        """The (task, plan) the episode with ``seed`` runs."""
        tasks = ((self.task, self.plan),) + self.more_tasks
        return tasks[seed % len(tasks)]


class Actor:
    """One collector: env + detector + agent with its own policy copy.

    ``detector_blob``: the CLIP detector's checkpoint bytes (a Ray actor's); without it the
    detector is loaded from ``spec.detector_path``."""

    def __init__(self, spec: ActorSpec, actor_id: int,
                 detector_blob: DetectorBlob | None = None) -> None:
        import torch

        from experiments.collect_infer.agent import SubgoalAgent
        from policy.model import PolicyConfig, TransformerPolicy
        from sim import EnvConfig, make_env

        torch.set_num_threads(spec.torch_threads)
        self.spec, self.actor_id = spec, actor_id
        render = spec.detector == "clip"
        self.env = make_env(spec.task, EnvConfig(horizon=spec.horizon, render=render))
        self.detector = make_detector(spec.detector, spec.detector_path, blob=detector_blob)
        self.policy = TransformerPolicy(PolicyConfig(**spec.policy_config)).eval()
        ws = self.env.config.workspace  # explore where the cubes spawn
        self.agent = SubgoalAgent(spec.plan, spec.goal_embeddings, self.policy, ws.low, ws.high,
                                  spec.explore_eps, set_down_exploring=spec.set_down_exploring,
                                  set_down_greedy=spec.set_down_greedy)

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
        return [self._episode(s, explore=True, meta=self.episode_meta()) for s in seeds]

    def evaluate(self, seeds: list[int], weights: dict[str, np.ndarray] | None) -> list[bool]:
        """Greedy success per seed."""
        if weights is not None:
            self.set_weights(weights)
        return [self._episode(s, explore=False).success for s in seeds]

    def cpu_seconds(self) -> float:
        """CPU time this actor's process has used so far (for throughput accounting)."""
        return time.process_time()

    def episode_meta(self) -> dict[str, Any]:
        """What a collected episode records about its collector."""
        return {"actor": self.actor_id, "detector": self.spec.detector}

    def _episode(self, seed: int, explore: bool, meta: dict[str, Any] | None = None) -> Rollout:
        task = None
        if self.spec.more_tasks:  # multi-skill run: this seed's task and plan
            task, plan = self.spec.task_for(seed)
            self.agent.plan = list(plan)
        return run_episode(self.env, self.agent, self.detector, seed, explore=explore,
                           meta=meta, task=task)

    def close(self) -> None:
        self.env.close()


class RemoteActor(Actor):
    """An :class:`Actor` in a Ray worker process: its episodes record the node it ran on."""

    def __init__(self, spec: ActorSpec, actor_id: int,
                 detector_blob: DetectorBlob | None = None) -> None:
        import ray

        super().__init__(spec, actor_id, detector_blob)
        self.node_id = ray.get_runtime_context().get_node_id()

    def episode_meta(self) -> dict[str, Any]:
        return {**super().episode_meta(), "node": self.node_id}

    def where(self) -> dict[str, Any]:
        """Where this actor runs and where its detector came from."""
        return {"actor": self.actor_id, "node": self.node_id, "pid": os.getpid(),
                "detector_from": _detector_origin(self.detector)}


class ActorPool:
    """N actors behind one interface; work is split evenly and gathered in seed order.

    ``ray_address``: a checked cluster address (``cluster.resolve_address``), None for a
    private local Ray. ``detector_blob``: the CLIP checkpoint's bytes if already read (else
    read here from ``spec.detector_path``); Ray actors are built from it, never from a path.
    ``max_deaths``: deaths in a row of one actor slot after which a round gives up.
    """

    def __init__(self, spec: ActorSpec, n: int, ray_address: str | None = None,
                 detector_blob: DetectorBlob | None = None, max_deaths: int = MAX_DEATHS) -> None:
        self.n, self.deaths, self.max_deaths = n, [0] * n, max_deaths
        if n == 1:
            self._local = Actor(spec, 0)
            self._remote: list[Any] = []
            return
        import ray

        blob = detector_blob or read_blob(spec.detector, spec.detector_path)
        connect(RayTarget(ray_address, n))
        self._spec_ref = ray.put(replace(spec, detector_path=None))
        self._blob_ref = ray.put(blob)
        # SPREAD: the scheduler places the actors over the cluster's nodes, not the driver's
        self._actor_class = ray.remote(num_cpus=1, scheduling_strategy="SPREAD")(RemoteActor)
        self._remote = [self._new_actor(i) for i in range(n)]
        try:
            self.where()  # every actor built: a failing constructor fails here
        except ray.exceptions.RayActorError as exc:
            self.close()
            raise ClusterError(f"a collector actor could not start: {_first_line(exc)}") from None

    def collect(self, seeds: list[int], weights: dict[str, np.ndarray],
                counts: dict[str, int]) -> list[Rollout]:
        return self.submit_collect(seeds, weights, counts).result()

    def submit_collect(self, seeds: list[int], weights: dict[str, np.ndarray],
                       counts: dict[str, int]) -> "Pending":
        """Start collecting; with Ray actors the caller is free until ``.result()``."""
        return self._submit("collect", seeds, weights, counts)

    def evaluate(self, seeds: list[int], weights: dict[str, np.ndarray]) -> list[bool]:
        return self._submit("evaluate", seeds, weights).result()

    def where(self) -> list[dict[str, Any]]:
        """Per actor: its node id, process id and where its detector came from (Ray actors;
        the in-process actor: this process, no node)."""
        if self.n == 1:
            return [{"actor": 0, "node": None, "pid": os.getpid(),
                     "detector_from": _detector_origin(self._local.detector)}]
        import ray

        return ray.get([a.where.remote() for a in self._remote])

    def cpu_seconds(self) -> list[float]:
        """Per actor, the CPU time its process has used so far (the in-process actor: this
        process's)."""
        if self.n == 1:
            return [self._local.cpu_seconds()]
        import ray

        return ray.get([a.cpu_seconds.remote() for a in self._remote])

    def _submit(self, method: str, seeds: list[int], *args: Any) -> "Pending":
        if self.n == 1:  # in-process: the work runs now, nothing is left pending
            call = Call(method, seeds, args, 1)
            return Pending(call, {0: getattr(self._local, method)(seeds, *args)}, None)
        import ray

        call = Call(method, seeds, tuple(ray.put(a) for a in args), self.n)
        busy = [i for i in range(self.n) if call.share(i)]
        return Pending(call, {i: self._run(i, call) for i in busy}, self,
                       {i: self._remote[i] for i in busy})

    def actor(self, slot: int) -> Any:
        """The Ray actor now serving ``slot``."""
        return self._remote[slot]

    def _run(self, slot: int, call: Call) -> Any:
        return getattr(self._remote[slot], call.method).remote(call.share(slot), *call.args)

    def _new_actor(self, slot: int) -> Any:
        return self._actor_class.remote(self._spec_ref, slot, self._blob_ref)

    def recover(self, slot: int, call: Call, exc: BaseException, dead: Any) -> Any:
        """Replace ``dead``, the actor of ``slot``, with a fresh one from the same spec and run
        its share of ``call`` again; ActorsLost after ``max_deaths`` deaths in a row. If
        another call already replaced it, the share just runs on the replacement."""
        import ray

        if dead is not self._remote[slot]:  # e.g. an overlapping round lost the same actor
            return self._run(slot, call)
        self.deaths[slot] += 1
        if self.deaths[slot] >= self.max_deaths:
            raise ActorsLost(f"collector actor {slot} died {self.deaths[slot]} time(s) in a row "
                             f"(last: {_first_line(exc)}); giving up")
        ray.kill(self._remote[slot], no_restart=True)
        cpus = int(ray.cluster_resources().get("CPU", 0))
        if cpus < self.n:  # a node left: the replacement would wait for a CPU forever
            raise ActorsLost(f"collector actor {slot} died with its node (last: "
                             f"{_first_line(exc)}); the Ray cluster has {cpus} CPU(s) left "
                             f"for {self.n} actors")
        self._remote[slot] = self._new_actor(slot)
        print(f"actor {slot} died ({type(exc).__name__}); replaced by a fresh actor that "
              f"re-runs its {len(call.share(slot))} seed(s)", file=sys.stderr, flush=True)
        return self._run(slot, call)

    def close(self) -> None:
        if self.n == 1:
            self._local.close()
            return
        import ray

        for a in self._remote:
            ray.kill(a)


def _detector_origin(detector: Any) -> str | None:
    """Where a CLIP detector was built from: "path" (a checkpoint on this machine's disk) or
    "memory" (bytes from the object store); None for the oracle and no detector."""
    meta = getattr(getattr(detector, "detector", None), "meta", None)
    if meta is None:
        return None
    return "path" if "path" in meta else "memory"


def _first_line(exc: BaseException) -> str:
    """The first non-empty line of an exception's message."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return lines[0] if lines else type(exc).__name__
