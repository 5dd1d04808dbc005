"""Sub-goal detectors as the agent sees them: CLIP on camera frames, or the oracle.

Both answer, for the frames after a step, which captions hold. The CLIP detector also returns
the frames' image embeddings, which the episode store keeps so that old data can be re-scored
against new sub-goals without re-simulating. The oracle reads the simulator's ground-truth
predicates: it exists only to price the CLIP detector's errors (``--detector oracle``).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, Sequence

import numpy as np

from perception.captions import CAPTIONS, captions_from_predicates

if TYPE_CHECKING:
    from perception.detector import DetectorBlob


class SubgoalDetector(Protocol):
    """What Collect & Infer needs from a detector."""

    name: str

    def observe(self, frames: np.ndarray, info: dict[str, Any]) -> tuple[np.ndarray | None, set[str]]:
        """(image embeddings (n_cams, E) or None, captions detected) for one step's frames."""

    def detect_embeddings(self, frame_embs: np.ndarray) -> list[set[str]]:
        """Captions detected in stored frame embeddings (T+1, n_cams, E)."""


class ClipDetector:
    """The CLIP (open_clip) detector from ``perception``: cosine score >= gamma."""

    name = "clip"

    def __init__(self, detector: Any, captions: Sequence[str] = CAPTIONS) -> None:
        self.detector = detector
        self.captions = list(captions)
        self.identity: str | None = detector.meta.get("weights_sha256")
        """SHA-256 of the weights whose image encoder made the embeddings it stores."""

    def observe(self, frames: np.ndarray, info: dict[str, Any]) -> tuple[np.ndarray, set[str]]:
        embs = self.detector.image_embeddings(frames[None])[0]  # (n_cams, E)
        return embs, self.detect_embeddings(embs[None])[0]

    def detect_embeddings(self, frame_embs: np.ndarray) -> list[set[str]]:
        scores = self.detector.scores_from_embeddings(frame_embs, self.captions)  # (T, C)
        hits = scores >= self.detector.gamma
        return [{c for c, h in zip(self.captions, row) if h} for row in hits]


class OracleDetector:
    """Ground-truth predicates in place of CLIP (an upper bound, never the framework default)."""

    name = "oracle"

    def observe(self, frames: np.ndarray | None, info: dict[str, Any]) -> tuple[None, set[str]]:
        return None, set(captions_from_predicates(info["predicates"]))

    def detect_embeddings(self, frame_embs: np.ndarray) -> list[set[str]]:
        raise ValueError("the oracle detector cannot re-score stored frames; use --detector clip")


def make_detector(kind: str, path: str | None, captions: Sequence[str] = CAPTIONS,
                  blob: DetectorBlob | None = None) -> SubgoalDetector | None:
    """The detector ``kind`` names: "clip" (built from ``blob`` if given, else the checkpoint
    at ``path``, or the cached default, scoring ``captions``), "oracle", or "none" (the
    env-reward baseline: None)."""
    if kind == "oracle":
        return OracleDetector()
    if kind == "none":
        return None
    if blob is not None:  # a Ray actor: the bytes came through the object store
        from perception.detector import Detector

        return ClipDetector(Detector.from_blob(blob, device="cpu"), captions)
    from perception import load_detector

    return ClipDetector(load_detector(path, device="cpu", build_if_missing=False), captions)


def read_blob(kind: str, path: str | None) -> DetectorBlob | None:
    """The checkpoint files of the "clip" detector at ``path`` (None: the cached default) as
    bytes, for actors that cannot read this machine's disk; None for the other kinds."""
    if kind != "clip":
        return None
    from perception.detector import DetectorBlob

    if path is None:
        from perception.loader import ensure_default_detector

        path = str(ensure_default_detector(build_if_missing=False))
    return DetectorBlob.read(path)
