"""Perception: CLIP (open_clip) sub-goal detection from camera frames."""
from __future__ import annotations

from typing import Any


def load_detector(path: Any = None, device: str = "cpu", build_if_missing: bool = True,
                  **kwargs: Any) -> Any:
    """The detector at ``path``, or the cached default (built on first use).

    See :func:`perception.loader.load_detector`; imported lazily (torch, open_clip).
    """
    from perception.loader import load_detector as _load_detector

    return _load_detector(path, device=device, build_if_missing=build_if_missing, **kwargs)
