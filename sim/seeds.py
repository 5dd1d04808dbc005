"""The seed registry: every scene seed langstack uses comes from one of these disjoint ranges.

A scene seed fixes an episode's cube layout (``env.reset(seed=...)``) or a demo's look. Each
purpose owns a range ``[start, start + size)``; a key (a run seed, a ``--seed``, a split's
block) selects a block of ``block`` seeds inside it. ``tests/sim/test_seeds.py`` proves the
ranges pairwise disjoint for run seeds 0..999 at every default count.

The perception splits, demo videos and imitation scenes keep the seeds they were built with
(the cached detector's frames do not change); the agent's training and evaluation scenes live
far above them, one block of a million seeds per run seed.
"""
from __future__ import annotations

from dataclasses import dataclass

MAX_KEY = 1_000_000
"""Keys (run seeds, ``--seed`` values) are 0 .. MAX_KEY - 1."""


@dataclass(frozen=True)
class SeedRange:
    """Seeds ``start + key * block + i`` for ``0 <= key < keys`` and ``0 <= i < block``."""

    name: str
    start: int
    block: int
    keys: int = MAX_KEY

    @property
    def stop(self) -> int:
        """One past the last seed of the range."""
        return self.start + self.keys * self.block

    def seed(self, key: int, i: int) -> int:
        """The ``i``-th seed of block ``key``; ValueError outside the range."""
        if not 0 <= key < self.keys:
            raise ValueError(f"{self.name} seeds: key must be in 0..{self.keys - 1}, got {key}")
        if not 0 <= i < self.block:
            raise ValueError(f"{self.name} seeds: at most {self.block} per key, asked for #{i}")
        return self.start + key * self.block + i

    def seeds(self, key: int, n: int, first: int = 0) -> list[int]:
        """``n`` consecutive seeds of block ``key`` from its ``first``-th."""
        if n < 0:
            raise ValueError(f"{self.name} seeds: a count must be >= 0, got {n}")
        if n:
            self.seed(key, first + n - 1)  # checks the whole span
        return [self.seed(key, first + i) for i in range(n)] if n else []


_T = 10 ** 12  # the agent's ranges: far above every perception/demo seed

# Perception splits: the seeds the embedded detector was built with (block = 100,000 episodes).
PERCEPTION: dict[str, SeedRange] = {
    split: SeedRange(f"perception {split}", start, 100_000, keys=100)
    for split, start in (("train", 0), ("val", 10_000_000), ("test", 20_000_000),
                         ("shifted", 30_000_000), ("arm-colors", 50_000_000),
                         ("arm-colors-val", 60_000_000))
}
DEMO_LOOK = SeedRange("demo look", 40_000_000, 1, keys=10_000_000)
"""``VisualConfig.shifted`` seed of demo video ``seed`` (the shifted look)."""
DEMO_SCENE = SeedRange("demo scene", 80_000_000, 1, keys=10_000_000)
"""Cube layout of demo video ``seed``."""
IMITATE = SeedRange("imitation scenes", 90_000_000, 100_003, keys=99)
"""Fresh scenes in which ``langstack imitate`` executes a plan (key: ``--seed``)."""

TRAIN = SeedRange("training", 1 * _T, 1_000_000)
"""Training episodes of run seed ``key``: episode ``n`` starts from seed ``n`` of the block."""
CURVE = SeedRange("curve eval", 2 * _T, 1_000_000)
CONFIRM = SeedRange("confirmation eval", 3 * _T, 1_000_000)
FINAL = SeedRange("final eval", 4 * _T, 1_000_000)
EVAL = SeedRange("langstack eval", 5 * _T, 1_000_000)
"""``langstack eval --seed S``: block S."""
RUN = SeedRange("langstack run / scheduling", 6 * _T, 1_000_000)
"""``langstack run`` and ``reproduce scheduling`` with ``--seed S``: block S."""
SPARSITY = SeedRange("sparseness", 7 * _T, 10_000_000, keys=100_000)
"""Random-policy episodes that measure a task's sparseness."""
PEERS = SeedRange("peer comparison eval", 8 * _T, 1_000_000)
"""``langstack reproduce peers``: every learner of run seed ``key`` (the framework too) is
evaluated on block ``key``; they all train on block ``key`` of TRAIN, as the framework does."""
BENCH = SeedRange("benchmarks", 9 * _T, 1_000_000)
"""Scenes of the speed benchmarks (``langstack bench``): block 0 warms up, block 1 measures."""
PEER_TUNING = SeedRange("peer tuning", 10 * _T, 1_000_000, keys=3)
"""``reproduce peers`` tuning runs: block 0 trains, block 1 evaluates, block 2 confirms (every
candidate setting of every learner sees the same scenes; none of the reported runs does)."""
STYLED_SPLITS: tuple[str, ...] = ("train", "val", "held-out-arm", "held-out-sector",
                                  "held-out-surface", "held-out")
"""Splits of the domain-randomised video-reader frames (``sim.styles``; leave-one-style-out)."""
STYLED: dict[str, SeedRange] = {
    split: SeedRange(f"styled {split}", 11 * _T + i * 10 ** 8, 100_000, keys=100)
    for i, split in enumerate(STYLED_SPLITS)
}
"""Episode seeds (scene and look) of each styled split: no scene or look is shared between
splits (``experiments.imitation.styled_frames``)."""

FOREIGN_DEMOS: dict[str, SeedRange] = {
    split: SeedRange(f"foreign demo {split}", 12 * _T + i * 10 ** 8, 50, keys=10_000)
    for i, split in enumerate(STYLED_SPLITS)
}
"""Foreign demo videos (``langstack reproduce video --foreign``) of each style split: video
``k`` of a split draws its scene and style from block ``k`` (the first seed whose camera sees
every cube), never a seed of the styled frames a reader trains on."""

ALL: tuple[SeedRange, ...] = (*PERCEPTION.values(), DEMO_LOOK, DEMO_SCENE, IMITATE, TRAIN,
                              CURVE, CONFIRM, FINAL, EVAL, RUN, SPARSITY, PEERS, BENCH,
                              PEER_TUNING, *STYLED.values(), *FOREIGN_DEMOS.values())
