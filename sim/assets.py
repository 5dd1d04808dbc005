"""Robot description files: pybullet_data's, plus a low-poly render variant of the Panda.

The Panda's visual meshes hold ~100k triangles, which makes a 128x128 TinyRenderer frame
~10x slower than the rest of the scene. The low-poly variant is the same URDF (same links,
joints, inertias and collision meshes) whose visuals are its own collision meshes (~3k
triangles). It is written once to the user cache dir; nothing else is written anywhere.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pybullet_data
from platformdirs import user_cache_dir

PANDA_URDF = "franka_panda/panda.urdf"


def data_path(relative: str) -> Path:
    """Absolute path of a file shipped in pybullet_data."""
    return Path(pybullet_data.getDataPath()) / relative


def panda_urdf(low_poly: bool = True) -> str:
    """Path of the Panda URDF to load (the low-poly render variant by default)."""
    if not low_poly:
        return PANDA_URDF
    source = data_path(PANDA_URDF)
    meshes = source.parent / "meshes" / "collision"
    text = source.read_text()
    text = text.replace("package://meshes/visual/", f"{meshes}/")
    text = text.replace("package://meshes/collision/", f"{meshes}/")
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    target = Path(user_cache_dir("langstack")) / "assets" / f"panda_lowpoly_{digest}.urdf"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(text)
        os.replace(tmp, target)
    return str(target)
