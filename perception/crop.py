"""The workspace crop: the square of a video frame around the cubes, where the captions are.

In a video someone else recorded, the cubes may cover a few percent of the picture; the rest
is arm, table, floor and whatever else stands there. The video reader therefore judges a
square crop around the cubes (where they are is found by :mod:`perception.localise`, or known
from the simulator when training frames are made), resized to its input size. One rule makes
the crop for training frames and for video frames, so the two agree.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CropRule:
    """How large a square around the cube points is cut out of a frame."""

    pad: float = 0.2
    """Margin around the points' bounding box on each side (fraction of the frame's short
    side): room for a cube's own extent, a gripper above it and a tower's top."""
    min_side: float = 0.45
    """Smallest crop side (fraction of the short side)."""

    def window(self, points: np.ndarray, hw: tuple[int, int]) -> tuple[int, int, int]:
        """(top, left, side) in pixels of the crop around ``points`` (K, 2) given as (row,
        column) fractions of a ``hw`` frame; the square is moved to lie inside the frame and
        is at most the short side. Points that are NaN are ignored (none: the centre)."""
        h, w = hw
        short = min(h, w)
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2) * (h, w)
        pts = pts[np.isfinite(pts).all(axis=1)]
        if len(pts) == 0:
            pts = np.array([[h / 2, w / 2]])
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        side = max(float((hi - lo).max()) + 2 * self.pad * short, self.min_side * short)
        side = int(round(min(side, short)))
        centre = (lo + hi) / 2
        top = int(round(np.clip(centre[0] - side / 2, 0, h - side)))
        left = int(round(np.clip(centre[1] - side / 2, 0, w - side)))
        return top, left, side


def crop(frame: np.ndarray, window: tuple[int, int, int], size: int) -> np.ndarray:
    """The ``window`` (top, left, side) of an ``(H, W, 3)`` uint8 frame, resized to
    ``(size, size, 3)``."""
    from PIL import Image

    top, left, side = window
    part = np.ascontiguousarray(frame[top:top + side, left:left + side])
    image = Image.fromarray(part)
    resample = Image.BILINEAR if side < size else Image.BOX
    return np.asarray(image.resize((size, size), resample))
