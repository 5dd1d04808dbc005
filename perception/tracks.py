"""Caption evidence from where the cubes go: the video reader's second witness.

The crop scorer (:mod:`perception.reader`) judges how a frame looks; the cube tracks (the
localiser's points over time) tell what happened, in any look, as long as the cubes are
found. The rules are physics, not style:

- every cube starts on the table, so where it is in the first frames is its *start*;
- the localiser also says how big a cube looks (:func:`perception.localise.measure`): one
  cube side across the view sets the video's length scale, and one cube height straight up
  is where a cube resting on another lies in the picture, from any camera;
- a cube resting on another got there by being carried: it is far from its start;
- a cube that moves is held: nothing else moves a cube in a demonstration; a cube at rest
  may or may not be (a grasp seen from afar), so rest is only weak evidence against holding.

:func:`track_evidence` turns this into a log-likelihood ratio per frame and caption, in the
units the plan decoder (:mod:`experiments.imitation.decode`) adds to the scorer's evidence.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from perception.captions import CAPTIONS, COLORS, GRASP_RE, ON_TOP_RE


@dataclass(frozen=True)
class TrackConfig:
    """The distances (in cube sides as the video shows them) that separate the cases. The
    defaults were set on foreign demos of the training style families (``reproduce video``'s
    ``val`` split), never on the families measured."""

    start_frames: int = 6
    """Frames whose median point is a cube's start."""
    min_side: float = 0.01
    """Floor of a cube side (fraction of the frame's short side), for a localiser that sees
    the cubes as points."""
    near: float = 1.0
    """A cube on another is at most this far from one cube height above it (the localiser's
    points and sizes are rough: tighter loses true stacks, measured on the val split)."""
    carried: float = 0.8
    """A cube this far from its start has been carried."""
    width: float = 0.2
    """Softness of both thresholds (distance per unit of evidence)."""
    moving: float = 0.15
    """Speed (per frame) above which a cube is held; the evidence grows by one unit per half
    of it."""
    lag: int = 2
    """Speed is the displacement between ``lag`` frames before and after, over 2 ``lag``."""
    clip: float = 3.0
    """Bound on one frame's evidence about one caption."""
    rest_against_grasp: float = 0.5
    """Evidence against holding a cube that sits still at its start."""

    def __post_init__(self) -> None:
        if self.start_frames < 1 or self.lag < 1:
            raise ValueError("start_frames and lag must be >= 1")
        if min(self.min_side, self.near, self.carried, self.width, self.moving,
               self.clip) <= 0:
            raise ValueError("distances, width and clip must be > 0")


def _soft(x: np.ndarray, width: float, bound: float) -> np.ndarray:
    return np.clip(x / width, -bound, bound)


def track_evidence(points: np.ndarray, geometry: np.ndarray, hw: tuple[int, int],
                   cfg: TrackConfig | None = None,
                   captions: tuple[str, ...] = CAPTIONS) -> np.ndarray:
    """``(T, 3, 2)`` cube points and ``(T, 3, 4)`` cube geometry (row, column fractions;
    cubes in ``sim``'s colour order; :func:`perception.localise.measure`) of one view of
    consecutive frames -> ``(T, K)`` evidence for ``captions`` (log-likelihood ratio units;
    > 0 for, < 0 against)."""
    cfg = cfg or TrackConfig()
    pts, geo = np.asarray(points, dtype=np.float64), np.asarray(geometry, dtype=np.float64)
    if pts.ndim != 3 or pts.shape[1:] != (len(COLORS), 2) or len(pts) == 0:
        raise ValueError(f"points must be (T >= 1, {len(COLORS)}, 2), got {pts.shape}")
    if geo.shape != (len(pts), len(COLORS), 4):
        raise ValueError(f"geometry must be ({len(pts)}, {len(COLORS)}, 4), got {geo.shape}")
    size = np.asarray(hw, dtype=np.float64)
    px = pts * size  # (T, 3, 2) pixels
    up = np.median((geo[..., :2] * size).reshape(-1, 2), axis=0)  # one cube height, pixels
    side = max(float(np.median(np.linalg.norm(geo[..., 2:] * size, axis=-1))),
               cfg.min_side * min(hw))
    start = np.median(px[:cfg.start_frames], axis=0)  # (3, 2)
    above = np.linalg.norm(px[:, :, None] - px[:, None] - up, axis=-1) / side  # (T, 3, 3)
    away = np.linalg.norm(px - start, axis=-1) / side  # (T, 3)
    speed = _speed(px, cfg.lag) / side  # (T, 3)
    carried = _soft(away - cfg.carried, cfg.width, cfg.clip)
    out = np.zeros((len(pts), len(captions)))
    index = {c: i for i, c in enumerate(COLORS)}
    for k, caption in enumerate(captions):
        if m := ON_TOP_RE.match(caption):
            x, y = index[m.group(1)], index[m.group(2)]
            close = _soft(cfg.near - above[:, x, y], cfg.width, cfg.clip)
            out[:, k] = np.minimum(close, carried[:, x])
        elif m := GRASP_RE.match(caption):
            x = index[m.group(1)]
            moving = _soft(speed[:, x] - cfg.moving, cfg.moving / 2, cfg.clip)
            still = -cfg.rest_against_grasp * (carried[:, x] < 0)
            out[:, k] = np.where(moving > 0, moving, still)
        else:
            raise ValueError(f"not a sub-goal caption: {caption!r}")
    return out


def _speed(px: np.ndarray, lag: int) -> np.ndarray:
    """``(T, 3)`` displacement per frame between ``lag`` frames before and after, less the
    cubes' median displacement: at most one cube is carried at a time, so what all of them
    do together is the camera (a shaking hand, a zoom) or the localiser, not a grasp."""
    padded = np.concatenate([px[:1].repeat(lag, 0), px, px[-1:].repeat(lag, 0)])
    step = padded[2 * lag:] - padded[:-2 * lag]  # (T, 3, 2)
    step = step - np.median(step, axis=1, keepdims=True)
    return np.linalg.norm(step, axis=-1) / (2 * lag)
