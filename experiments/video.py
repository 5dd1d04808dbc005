"""Writing frames to mp4 (ffmpeg via imageio-ffmpeg) or gif."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from experiments.cliutil import UsageError

VIDEO_SUFFIXES = (".mp4", ".gif")


def check_video_path(path: str | Path) -> Path:
    """Validate an output video path before any work is done."""
    out = Path(path)
    if out.suffix.lower() not in VIDEO_SUFFIXES:
        raise UsageError(f"video must end in .mp4 or .gif, got {str(out)!r}")
    if out.parent != Path("") and not out.parent.exists():
        raise UsageError(f"directory does not exist: {str(out.parent)!r}")
    return out


def tile(images: np.ndarray) -> np.ndarray:
    """(n_cams, H, W, 3) camera images side by side -> (H, n_cams * W, 3)."""
    return np.concatenate(list(images), axis=1)


def write_video(path: Path, frames: Sequence[np.ndarray], fps: int = 12) -> None:
    """Write RGB frames (H, W, 3) uint8 to ``path`` (.mp4 or .gif)."""
    import imageio.v2 as imageio

    if path.suffix.lower() == ".gif":
        imageio.mimsave(path, list(frames), duration=1000.0 / fps, loop=0)  # milliseconds
        return
    with imageio.get_writer(path, fps=fps, codec="libx264", quality=7,
                            macro_block_size=8) as writer:
        for frame in frames:
            writer.append_data(frame)
