"""Mid-motion frames rendered only when read (``EnvConfig.lazy_motion``).

During a primitive the env records the world every few physics steps. Rendering every
instant costs ~15 ms for two 128x128 views, while the detector's dataset keeps one instant
per step. In lazy mode the env records each instant's poses (every body's base pose and
joint positions) instead, and :class:`MotionFrames` renders an instant when it is indexed,
in a second, render-only copy of the world posed as recorded. The physics client is never
touched (pybullet's restoreState would perturb the rest of the episode), and the images
are the ones eager rendering gives (``tests/sim/test_motion.py``).
"""
from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import overload

import numpy as np

from sim.world import World


class ShadowWorld:
    """A render-only twin of a World: built from the same visual config and the same reset
    draws, never stepped, posed from pose records."""

    def __init__(self, world: World) -> None:
        self.world = World(world.visual, world.workspace)

    def reset_like(self, rng_before_reset: np.random.Generator) -> None:
        """Rebuild as the physics world will from the same generator (drawing from a copy)."""
        self.world.reset(copy.deepcopy(rng_before_reset))

    def render(self, record: list) -> np.ndarray:
        """(n_cams, H, W, 3) uint8 images of the twin posed as ``record``."""
        self.world.bullet.apply_pose_record(record)
        return self.world.render_as_posed()  # a drawn arm was posed before recording

    def close(self) -> None:
        self.world.close()


class MotionFrames(Sequence):
    """``(n_cams, H, W, 3)`` uint8 frames of recorded instants, rendered on access.

    Valid until the env's next ``reset()`` or ``close()``.
    """

    def __init__(self, shadow: ShadowWorld, records: list[list]) -> None:
        self._shadow = shadow
        self._records = records
        self._valid = True

    def __len__(self) -> int:
        return len(self._records)

    @overload
    def __getitem__(self, i: int) -> np.ndarray: ...

    @overload
    def __getitem__(self, i: slice) -> list[np.ndarray]: ...

    def __getitem__(self, i: int | slice) -> np.ndarray | list[np.ndarray]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if not self._valid:
            raise RuntimeError("lazy motion frames can only be read before the env's next "
                               "reset(); copy the ones you need first")
        return self._shadow.render(self._records[i])  # IndexError as for a list

    def invalidate(self) -> None:
        """Called by the env when its world is rebuilt; later reads raise."""
        self._valid = False
