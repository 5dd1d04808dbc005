"""Dressing a world in a :class:`sim.cameras.Scenery`: floor, table texture, props, cube looks.

Everything added here is drawn only (no collision shape, no mass), so the physics of a
dressed world is the training world's. Procedural textures (checker, stripes, wood grain,
noise) are generated once into the user cache (``<cache>/assets/textures``), like the
low-poly Panda; pybullet_data's own images are used where they are.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from sim.bullet import Bullet
from sim.cameras import Scenery

FLOOR_HALF = (2.5, 2.5, 0.005)
FLOOR_Z = -0.25
"""Height of the floor's top (metres): the table top is at 0."""
TEXTURE_SIZE = 128
PYBULLET_TEXTURES: tuple[str, ...] = ("checker_grid.jpg", "checker_blue.png", "table/table.png",
                                      "tex256.png", "tray/tray.jpg", "uvmap.png")
"""Images shipped in pybullet_data that make plausible table tops and floors."""
PROCEDURAL_KINDS: tuple[str, ...] = ("checker", "stripes", "noise", "wood")
PROCEDURAL_VARIANTS = 8
"""Variants generated of each procedural kind (``procedural_texture(kind, i)``)."""


def dress(bullet: Bullet, scenery: Scenery | None) -> tuple[str, ...]:
    """Add the floor, table texture and props of ``scenery`` to a world whose table exists;
    returns the names of the bodies added (all static)."""
    if scenery is None:
        return ()
    added = []
    if scenery.table_texture:
        bullet.set_texture("table", scenery.table_texture)
    if scenery.floor_rgba is not None:
        bullet.create_visual_box("floor", FLOOR_HALF, (0.3, 0.0, FLOOR_Z - FLOOR_HALF[2]),
                                 scenery.floor_rgba)
        if scenery.floor_texture:
            bullet.set_texture("floor", scenery.floor_texture)
        added.append("floor")
    for i, prop in enumerate(scenery.props):
        name = f"prop{i}"
        half = np.sin(prop.yaw / 2)
        bullet.create_visual_shape(name, prop.shape, prop.size, prop.position, prop.rgba,
                                   length=prop.length,
                                   orientation=(0.0, 0.0, float(half), float(np.cos(prop.yaw / 2))))
        added.append(name)
    return tuple(added)


def dress_cubes(bullet: Bullet, scenery: Scenery | None, cubes: Sequence[str],
                colors: dict[str, tuple[float, float, float, float]],
                rng: np.random.Generator) -> None:
    """Tint the cubes and turn each by a random yaw (drawn from ``rng``) as the scenery says."""
    if scenery is None:
        return
    for i, c in enumerate(cubes):
        if scenery.cube_tint:
            rgb = np.clip(np.asarray(colors[c][:3]) + scenery.cube_tint[i], 0.0, 1.0)
            bullet.set_color(c, (*rgb.tolist(), 1.0))
        if scenery.cube_yaw > 0:
            yaw = float(rng.uniform(-scenery.cube_yaw, scenery.cube_yaw))
            pos, _ = bullet.pose(c)
            bullet.set_pose(c, pos, (0.0, 0.0, float(np.sin(yaw / 2)), float(np.cos(yaw / 2))))


def pybullet_texture(name: str) -> str:
    """Absolute path of an image in pybullet_data (one of :data:`PYBULLET_TEXTURES`)."""
    from sim.assets import data_path

    if name not in PYBULLET_TEXTURES:
        raise ValueError(f"unknown pybullet_data texture {name!r}; known: "
                         + ", ".join(PYBULLET_TEXTURES))
    return str(data_path(name))


def procedural_texture(kind: str, variant: int) -> str:
    """Path of procedural texture ``variant`` of ``kind`` (generated into the cache once)."""
    if kind not in PROCEDURAL_KINDS:
        raise ValueError(f"unknown texture kind {kind!r}; kinds: {', '.join(PROCEDURAL_KINDS)}")
    if not 0 <= variant < PROCEDURAL_VARIANTS:
        raise ValueError(f"texture variant must be in 0..{PROCEDURAL_VARIANTS - 1}, got {variant}")
    from platformdirs import user_cache_dir

    target = Path(user_cache_dir("langstack")) / "assets" / "textures" / f"{kind}{variant}-v1.png"
    if not target.exists():
        from PIL import Image

        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".tmp{os.getpid()}")
        image = _draw(kind, np.random.default_rng([PROCEDURAL_KINDS.index(kind), variant]))
        Image.fromarray(image).save(tmp, format="PNG")
        os.replace(tmp, target)
    return str(target)


def _draw(kind: str, rng: np.random.Generator) -> np.ndarray:
    """(TEXTURE_SIZE, TEXTURE_SIZE, 3) uint8 image of a procedural texture."""
    n = TEXTURE_SIZE
    a, b = rng.uniform(0.15, 0.95, 3), rng.uniform(0.15, 0.95, 3)
    y, x = np.mgrid[0:n, 0:n] / n
    if kind == "checker":
        k = int(rng.integers(2, 9))
        mix = ((np.floor(x * k) + np.floor(y * k)) % 2)[..., None]
    elif kind == "stripes":
        k, angle = int(rng.integers(3, 12)), rng.uniform(0, np.pi)
        mix = (np.sin(2 * np.pi * k * (x * np.cos(angle) + y * np.sin(angle))) > 0)[..., None]
    elif kind == "wood":
        a = rng.uniform([0.45, 0.25, 0.10], [0.75, 0.50, 0.25])
        b = a * rng.uniform(0.55, 0.8)
        warp = _smooth_noise(rng, n, 8) * rng.uniform(1.0, 3.0)
        rings = np.sin(2 * np.pi * (rng.uniform(6, 16) * x + warp))
        mix = (0.5 + 0.5 * rings)[..., None] ** 2
    else:  # noise
        mix = _smooth_noise(rng, n, int(rng.integers(4, 32)))[..., None]
    image = a * (1 - mix) + b * mix
    return (np.clip(image, 0, 1) * 255).astype(np.uint8)


def _smooth_noise(rng: np.random.Generator, n: int, cells: int) -> np.ndarray:
    """(n, n) values in [0, 1]: random values on a ``cells`` grid, bilinearly upsampled."""
    grid = rng.uniform(0, 1, (cells + 1, cells + 1))
    t = np.linspace(0, cells, n, endpoint=False)
    i, f = t.astype(int), t - t.astype(int)
    rows = grid[i] * (1 - f)[:, None] + grid[i + 1] * f[:, None]  # (n, cells + 1)
    return rows[:, i] * (1 - f)[None] + rows[:, i + 1] * f[None]
