"""Watching a video: frames -> camera views -> CLIP scores of every caption.

**Views.** The detector was trained on square views from two fixed cameras, each view scored
on its own and the frame's score being the mean of the views' cosines (the detector's camera
rule). A video frame twice as wide as it is high is taken as two views side by side, the tile
that ``langstack demo-video`` (and ``langstack expert --video``) write; any other frame is one
view. Each view is centre-cropped to a square (the training views are square) and the detector
resizes it to its input size.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from tqdm import tqdm

from experiments.imitation.frames import BAR_DELAY, VideoError
from perception.captions import CAPTIONS

TILE_TOLERANCE = 0.03
"""A frame is a two-view tile when its width is within 3% of twice its height."""
SCORE_CHUNK = 32
"""Frames embedded per progress-bar tick."""


def n_views(height: int, width: int, views: int | None = None) -> int:
    """How many side-by-side views a frame of this size holds (``views`` forces it)."""
    if views is not None:
        if views < 1 or width < views * 16:
            raise VideoError(f"cannot split {width}-pixel-wide frames into {views} views")
        return views
    return 2 if abs(width - 2 * height) <= TILE_TOLERANCE * 2 * height else 1


def to_views(frames: np.ndarray, views: int | None = None, square: bool = True) -> np.ndarray:
    """(N, H, W, 3) frames -> (N, V, S, S, 3) square views, side-by-side tiles split
    (``square=False``: each view whole, (N, V, H, W/V, 3))."""
    n, h, w, _ = frames.shape
    v = n_views(h, w, views)
    width = w // v
    parts = [frames[:, :, i * width:(i + 1) * width] for i in range(v)]
    return np.stack([_square(p) if square else p for p in parts], axis=1)


def _square(views: np.ndarray) -> np.ndarray:
    """Centre-crop (N, H, W, 3) to (N, S, S, 3) with S = min(H, W)."""
    h, w = views.shape[1:3]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    return views[:, top:top + s, left:left + s]


def frame_scores(detector: Any, views: np.ndarray, progress: bool = True) -> np.ndarray:
    """(N, K) score of every frame for every caption of the vocabulary (CAPTIONS order): the
    detector's own rule for combining a frame's (N, V, ...) views."""
    out = []
    chunks = range(0, len(views), SCORE_CHUNK)
    bar = tqdm(chunks, desc="scoring frames", unit="chunk", disable=not progress, leave=False,
               delay=BAR_DELAY)
    for i in bar:
        emb = detector.image_embeddings(views[i:i + SCORE_CHUNK])  # (n, V, E)
        out.append(detector.scores_from_embeddings(emb, CAPTIONS))  # (n, K)
    return np.concatenate(out).astype(np.float32)
