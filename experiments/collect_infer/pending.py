"""Work handed to collector actors and waited for: a call split over the actors by seed,
and its pending result (Ray actors that die are replaced through their pool)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from experiments.collect_infer.actors import ActorPool


@dataclass
class Call:
    """One method call split over the actors: slot ``i`` runs ``seeds[i::stride]``."""

    method: str
    seeds: list[int]
    args: tuple
    """Object-store references (Ray) or values (in-process)."""
    stride: int

    def share(self, slot: int) -> list[int]:
        return self.seeds[slot::self.stride]


class Pending:
    """Work handed to the actors: ``result()`` waits and returns it in seed order."""

    def __init__(self, call: Call, parts: dict[int, Any], pool: "ActorPool | None",
                 ran_on: dict[int, Any] | None = None) -> None:
        self.call, self.parts, self.pool = call, parts, pool
        self.ran_on = ran_on or {}
        """Per slot, the Ray actor its part was handed to."""

    def result(self) -> list:
        """The per-seed results (waits for Ray actors, replacing any that die)."""
        parts = self.parts if self.pool is None else self._gather()
        out: list = [None] * len(self.call.seeds)
        for slot, part in parts.items():
            out[slot::self.call.stride] = part
        return out

    def _gather(self) -> dict[int, Any]:
        import ray
        from ray.exceptions import RayActorError

        waiting = {ref: slot for slot, ref in self.parts.items()}
        done: dict[int, Any] = {}
        while waiting:
            ready, _ = ray.wait(list(waiting), num_returns=1)
            slot = waiting.pop(ready[0])
            try:
                done[slot] = ray.get(ready[0])
            except RayActorError as exc:  # the actor's process or node died
                ref = self.pool.recover(slot, self.call, exc, self.ran_on[slot])
                self.ran_on[slot] = self.pool.actor(slot)
                waiting[ref] = slot
            else:
                self.pool.deaths[slot] = 0
        return done
