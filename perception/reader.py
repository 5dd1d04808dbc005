"""The video reader: find the cubes, crop around them, score the crop with CLIP.

A video someone else recorded shows the cubes small, anywhere in the picture, next to an arm
and a table the agent's detector never saw. The reader therefore works in two steps:

1. :mod:`perception.localise` finds each cube's image point in the frame (squashed square)
   and how big a cube looks there; the points are smoothed over time with a running median
   (the cubes rest most of the time and a localiser's slips are brief);
2. the square around them (:class:`perception.crop.CropRule`) is cut from the frame at its
   own resolution, resized to the CLIP model's input, and scored against the captions by a
   :class:`perception.detector.Detector` trained on such crops.

The points also witness on their own (:mod:`perception.tracks`): a cube that moves is held,
one carried to one cube height above another rests on it. :meth:`VideoReader.read` returns
both witnesses' evidence; the plan decoder adds them.

A reader is saved as a directory: the detector's files, ``localiser.safetensors`` and
``reader.json`` (never pickle).
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from perception.captions import CAPTIONS
from perception.crop import CropRule, crop
from perception.detector import Detector
from perception.tracks import TrackConfig, track_evidence

READER_FILE = "reader.json"
LOCALISER_FILE = "localiser.safetensors"
READER_FORMAT = 2
SMOOTH_FRAMES = 5
"""Running-median window over a video's cube points (frames)."""


class VideoReader:
    """Evidence of video frames for every caption: the crops around the cubes, scored, and
    the cubes' tracks."""

    def __init__(self, localiser: Any, detector: Detector, rule: CropRule = CropRule(),
                 meta: dict[str, Any] | None = None, tracks: TrackConfig = TrackConfig()) -> None:
        self.localiser = localiser.eval()
        self.detector = detector
        self.rule = rule
        self.tracks = tracks
        self.meta = dict(meta or {})

    @property
    def spec(self) -> Any:
        return self.detector.spec

    @property
    def gamma(self) -> float:
        return self.detector.gamma

    @property
    def video_gamma(self) -> float:
        """The reader judges video frames only: its gamma is its video gamma."""
        return self.detector.gamma

    def measure(self, frames: np.ndarray, smooth: int = SMOOTH_FRAMES) -> tuple[np.ndarray, np.ndarray]:
        """``(N, H, W, 3)`` consecutive frames -> cube points ``(N, 3, 2)``, median-smoothed
        over ``smooth`` frames, and how big the cubes look there ``(N, 3, 4)``
        (:func:`perception.localise.measure`)."""
        from perception.localise import measure

        pts, geometry = measure(self.localiser, frames)
        if smooth > 1 and len(pts) > 1:
            half = smooth // 2
            pad = np.concatenate([pts[:1].repeat(half, 0), pts, pts[-1:].repeat(half, 0)])
            pts = np.stack([np.median(pad[i:i + smooth], axis=0) for i in range(len(pts))])
        return pts, geometry

    def points(self, frames: np.ndarray, smooth: int = SMOOTH_FRAMES) -> np.ndarray:
        """``(N, H, W, 3)`` consecutive frames -> cube points ``(N, 3, 2)``, median-smoothed
        over ``smooth`` frames."""
        return self.measure(frames, smooth)[0]

    def crops(self, frames: np.ndarray, smooth: int = SMOOTH_FRAMES,
              points: np.ndarray | None = None) -> np.ndarray:
        """``(N, H, W, 3)`` frames -> ``(N, S, S, 3)`` crops around the cubes (at ``points``
        when given, else where the localiser finds them)."""
        size = self.detector.spec.image_size
        hw = frames.shape[1:3]
        pts = self.points(frames, smooth) if points is None else points
        return np.stack([crop(f, self.rule.window(p, hw), size) for f, p in zip(frames, pts)])

    def read(self, views: np.ndarray, smooth: int = SMOOTH_FRAMES) -> tuple[np.ndarray, np.ndarray]:
        """``(N, V, H, W, 3)`` consecutive frames of a video (V side-by-side views) -> the
        crops' ``(N, K)`` scores (CAPTIONS order) and the cube tracks' ``(N, K)`` evidence
        (:func:`perception.tracks.track_evidence`), each the views' mean."""
        scores, evidence = [], []
        for v in range(views.shape[1]):
            frames = views[:, v]
            pts, geometry = self.measure(frames, smooth)
            crops = self.crops(frames, points=pts)
            scores.append(self.detector.scores(crops[:, None], CAPTIONS))
            evidence.append(track_evidence(pts, geometry, frames.shape[1:3], self.tracks))
        return (np.mean(scores, axis=0).astype(np.float32),
                np.mean(evidence, axis=0).astype(np.float32))

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike, extra: dict[str, Any] | None = None) -> Path:
        """Write the detector's files, the localiser's weights and ``reader.json``."""
        from safetensors.torch import save_file

        out = Path(path)
        self.detector.save(out)
        state = {k: v.detach().cpu().contiguous() for k, v in self.localiser.state_dict().items()}
        save_file(state, str(out / LOCALISER_FILE))
        self.meta.update(extra or {})
        info = {"format": READER_FORMAT, "localiser_width": self.localiser.width,
                "crop_rule": asdict(self.rule), **self.meta}
        (out / READER_FILE).write_text(json.dumps(info, indent=1))
        return out

    @classmethod
    def load(cls, path: str | os.PathLike, device: str = "cpu") -> "VideoReader":
        """Load a reader directory written by :meth:`save` (safetensors, no pickle)."""
        from safetensors.torch import load_file

        from perception.localise import Localiser

        p = Path(path)
        info = json.loads((p / READER_FILE).read_text())
        if info.get("format") != READER_FORMAT:
            raise ValueError(f"{p}: reader format {info.get('format')!r}, this version reads "
                             f"{READER_FORMAT}")
        net = Localiser(int(info["localiser_width"]))
        net.load_state_dict(load_file(str(p / LOCALISER_FILE)))
        meta = {k: v for k, v in info.items() if k not in ("format", "localiser_width", "crop_rule")}
        meta["path"] = str(p)
        return cls(net, Detector.load(p, device), CropRule(**info["crop_rule"]), meta)


def balanced_gamma(scores: np.ndarray, labels: np.ndarray, grid: int = 197) -> dict[str, Any]:
    """The threshold that best separates true captions from false ones (Youden's J: true
    positive rate minus false positive rate, pooled over captions) on validation ``scores``
    ``(N, K)`` with boolean ``labels``. The reader's scores are evidence for the plan decoder
    (:mod:`experiments.imitation.decode`), which weighs them around gamma: a threshold for
    high precision (the agent's detector's) would count most true captions against
    themselves."""
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels, dtype=bool)
    pos, neg = scores[labels], scores[~labels]
    if len(pos) == 0 or len(neg) == 0:
        raise ValueError("calibration needs both true and false captions")
    ths = np.quantile(scores, np.linspace(0.01, 0.99, grid))
    j = [(pos >= t).mean() - (neg >= t).mean() for t in ths]
    best = float(ths[int(np.argmax(j))])
    return {"gamma": best, "rule": "max TPR - FPR (pooled, validation crops)",
            "tpr": float((pos >= best).mean()), "fpr": float((neg >= best).mean()),
            "score_gap": float(np.median(pos) - np.median(neg))}


def is_reader(path: str | os.PathLike) -> bool:
    """Is ``path`` a saved video reader (not only a detector)?"""
    return (Path(path) / READER_FILE).is_file()
