"""Reading a user's video: an mp4/gif (or another ffmpeg format) or a folder of png/jpg frames.

Every problem with the input becomes a :class:`VideoError` (a ``ValueError``) with one clear
line (missing path, unreadable or corrupt file, empty folder, frames that are not H x W x 3
uint8 RGB, frames of different sizes, a grayscale video). Long videos are subsampled evenly
to at most ``max_frames`` frames while they are decoded (a progress bar shows the decoding).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
from tqdm import tqdm


class VideoError(ValueError):
    """A video or frame folder that cannot be read as RGB frames (the message says why)."""



FFMPEG_SUFFIXES = (".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm")
GIF_SUFFIXES = (".gif",)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
GRAY_TOLERANCE = 3
"""A video whose channels never differ by more than this is grayscale (compression noise)."""
BAR_DELAY = 1.0
"""Seconds before a progress bar shows: short videos (and bad input) print none."""
MAX_HEIGHT = 256
"""Taller frames are downscaled (keeping the aspect) as they are read: the detector sees
64-128 pixel views, and 240 full-HD frames would take 1.5 GB."""


@dataclass
class VideoFrames:
    """Frames read from a video, after subsampling."""

    frames: np.ndarray
    """(N, H, W, 3) uint8 RGB."""
    indices: np.ndarray
    """(N,) index of each kept frame in the source."""
    total: int
    """Frames in the source."""
    source: str


def read_video(path: str | Path, max_frames: int = 240, progress: bool = True) -> VideoFrames:
    """Frames of a video file or a folder of images, at most ``max_frames`` of them."""
    p = Path(path)
    if max_frames < 1:
        raise VideoError(f"max_frames must be >= 1, got {max_frames}")
    if not p.exists():
        raise VideoError(f"no such video or folder: {str(p)!r}")
    if p.is_dir():
        return _read_folder(p, max_frames, progress)
    suffix = p.suffix.lower()
    if suffix not in FFMPEG_SUFFIXES + GIF_SUFFIXES:
        known = ", ".join(FFMPEG_SUFFIXES + GIF_SUFFIXES)
        raise VideoError(f"{str(p)!r} is not a video: expected one of {known} "
                         "or a folder of png/jpg frames")
    try:
        total = _count_frames(p)
        if total < 1:
            raise VideoError(f"{str(p)!r} holds no frames")
        keep = subsample(total, max_frames)
        stream = _iter_file(p)
        frames = _collect(stream, keep, total, progress, str(p))
    except VideoError:
        raise
    except Exception as exc:  # imageio/ffmpeg/Pillow report corrupt input in many ways
        reason = " ".join(str(exc).split())[:160] or type(exc).__name__
        raise VideoError(f"cannot read video {str(p)!r}: {reason}") from None
    if len(frames) == 0:
        raise VideoError(f"{str(p)!r} holds no readable frames")
    return VideoFrames(_stack(frames, str(p)), keep[:len(frames)], total, str(p))


def subsample(total: int, max_frames: int) -> np.ndarray:
    """Indices of at most ``max_frames`` frames spread evenly over ``total`` (first, last kept)."""
    if total <= max_frames:
        return np.arange(total)
    return np.unique(np.linspace(0, total - 1, max_frames).round().astype(int))


def check_frame(frame: np.ndarray, where: str) -> np.ndarray:
    """One frame as (H, W, 3) uint8 RGB; an opaque alpha channel is dropped."""
    a = np.asarray(frame)
    if a.dtype != np.uint8:
        raise VideoError(f"{where}: frames must be 8-bit RGB, got dtype {a.dtype}")
    if a.ndim == 2 or (a.ndim == 3 and a.shape[-1] == 1):
        raise VideoError(f"{where}: frame is grayscale {a.shape}; expected H x W x 3 RGB")
    if a.ndim == 3 and a.shape[-1] == 4:
        if a[..., 3].min() < 255:
            raise VideoError(f"{where}: frame has a transparent alpha channel; "
                             "expected H x W x 3 RGB")
        a = a[..., :3]
    if a.ndim != 3 or a.shape[-1] != 3:
        raise VideoError(f"{where}: frame has shape {a.shape}; expected H x W x 3 RGB")
    if min(a.shape[:2]) < 16:
        raise VideoError(f"{where}: frame is too small {a.shape[:2]}; need at least 16 x 16 pixels")
    return _shrink(a)


def _shrink(frame: np.ndarray) -> np.ndarray:
    h, w = frame.shape[:2]
    if h <= MAX_HEIGHT:
        return frame
    from PIL import Image

    size = (max(16, round(w * MAX_HEIGHT / h)), MAX_HEIGHT)
    return np.asarray(Image.fromarray(frame).resize(size, Image.Resampling.BOX))


def _natural_key(path: Path) -> list:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.name.lower())]


def _read_folder(folder: Path, max_frames: int, progress: bool) -> VideoFrames:
    import imageio.v3 as iio

    files = sorted((f for f in folder.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES
                    and f.is_file()), key=_natural_key)
    if not files:
        raise VideoError(f"folder {str(folder)!r} holds no .png/.jpg frames")
    keep = subsample(len(files), max_frames)
    frames = []
    bar = tqdm(keep, desc="reading frames", unit="frame", disable=not progress, leave=False,
               delay=BAR_DELAY)
    for i in bar:
        try:
            image = iio.imread(files[i])
        except Exception as exc:
            reason = " ".join(str(exc).split())[:160] or type(exc).__name__
            raise VideoError(f"cannot read image {str(files[i])!r}: {reason}") from None
        frames.append(check_frame(image, str(files[i])))
    return VideoFrames(_stack(frames, str(folder)), keep, len(files), str(folder))


def _count_frames(path: Path) -> int:
    if path.suffix.lower() in GIF_SUFFIXES:
        return sum(_gif_repeats(path))
    import imageio.v2 as imageio

    with imageio.get_reader(path, format="FFMPEG") as reader:
        return int(reader.count_frames())


def _iter_file(path: Path) -> Iterator[np.ndarray]:
    if path.suffix.lower() in GIF_SUFFIXES:
        yield from _gif_frames(path)
        return
    import imageio.v2 as imageio

    with imageio.get_reader(path, format="FFMPEG") as reader:
        yield from reader


def _gif_repeats(path: Path) -> list[int]:
    """How many time steps each GIF frame lasts: GIF writers merge identical consecutive frames
    into one longer frame, so a result held on screen would otherwise last one frame."""
    from PIL import Image, ImageSequence

    with Image.open(path) as image:
        durations = [int(f.info.get("duration", 0) or 0) for f in ImageSequence.Iterator(image)]
    base = min((d for d in durations if d > 0), default=0)
    return [max(1, round(d / base)) if base else 1 for d in durations]


def _gif_frames(path: Path) -> Iterator[np.ndarray]:
    from PIL import Image, ImageSequence

    repeats = _gif_repeats(path)
    with Image.open(path) as image:
        for frame, n in zip(ImageSequence.Iterator(image), repeats):
            rgb = np.asarray(frame.convert("RGB"))  # palette/grayscale -> (H, W, 3)
            for _ in range(n):
                yield rgb


def _collect(stream: Iterable[np.ndarray], keep: np.ndarray, total: int, progress: bool,
             where: str) -> list[np.ndarray]:
    """The frames of ``stream`` at the sorted indices ``keep`` (decoding every frame)."""
    wanted, out = set(keep.tolist()), []
    bar = tqdm(total=total, desc="decoding video", unit="frame", disable=not progress,
               leave=False, delay=BAR_DELAY)
    for i, frame in enumerate(stream):
        bar.update(1)
        if i in wanted:
            out.append(check_frame(frame, f"{where} frame {i}"))
        if len(out) == len(keep):
            break
    bar.close()
    return out


def _stack(frames: list[np.ndarray], where: str) -> np.ndarray:
    shapes = {f.shape for f in frames}
    if len(shapes) > 1:
        raise VideoError(f"{where}: frames have different sizes {sorted(shapes)}; "
                         "all frames of a video must have one size")
    video = np.stack(frames)  # (N, H, W, 3)
    spread = max(int(np.abs(np.diff(f.astype(np.int16), axis=-1)).max()) for f in video)
    if spread <= GRAY_TOLERANCE:
        raise VideoError(f"{where}: the video is grayscale; the detector reads colours "
                         "(red, green, blue objects), so it needs colour frames")
    return video
