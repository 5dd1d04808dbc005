"""How video frames come out of a camera: crop, frame size, blur, sensor noise, compression.

A :class:`PostProcess` turns square renders into the frames of a video as a phone or webcam
would deliver them: a centred crop to the video's aspect (width / height), a further zoom-in
crop off centre, a resize to the frame size (upscaling a small render softens it like a cheap
camera), a Gaussian blur (focus, motion), pixel noise and a lossy JPEG round trip (block
artefacts like those of video codecs). Pure numpy and PIL: no simulator is needed, so the
same code can degrade frames from anywhere. Drawn per video by :func:`sample_post`; the
noise of each frame comes from the caller's generator.
"""
from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

BLUR = (0.0, 1.6)
"""Gaussian blur sigma at frame size (pixels)."""
NOISE = (0.0, 0.03)
"""Standard deviation of the pixel noise (fraction of the full range)."""
JPEG_QUALITY = (20, 90)
"""JPEG quality of a compressed video (lower: more artefacts)."""
JPEG_PROB = 0.7
"""Fraction of videos that are compressed."""
ZOOM = (0.8, 1.0)
"""Fraction of the frame kept by the zoom-in crop (each side)."""


@dataclass(frozen=True)
class PostProcess:
    """What happens to a rendered frame on its way into a video. Defaults change nothing but
    the crop to ``frame_hw``."""

    frame_hw: tuple[int, int] = (240, 320)
    """(height, width) of a video frame (pixels)."""
    zoom: float = 1.0
    """Fraction of the aspect crop kept (each side) by a further crop (1: none)."""
    offset: tuple[float, float] = (0.5, 0.5)
    """Where that crop sits in the aspect crop: 0 top/left, 0.5 centred, 1 bottom/right."""
    blur: float = 0.0
    """Gaussian blur sigma at frame size (pixels, 0: none)."""
    noise: float = 0.0
    """Pixel noise standard deviation, as a fraction of 255 (0: none)."""
    jpeg_quality: int | None = None
    """JPEG round-trip quality 1-95 (None: lossless)."""

    def __post_init__(self) -> None:
        h, w = self.frame_hw
        if h < 8 or w < 8:
            raise ValueError(f"frame size must be at least 8x8 pixels, got {h}x{w}")
        if not 0.1 <= self.zoom <= 1.0:
            raise ValueError(f"zoom must be in [0.1, 1], got {self.zoom}")
        if not all(0.0 <= o <= 1.0 for o in self.offset):
            raise ValueError(f"offset must be in [0, 1]^2, got {self.offset}")
        if self.blur < 0 or self.noise < 0:
            raise ValueError("blur and noise must be >= 0")
        if self.jpeg_quality is not None and not 1 <= self.jpeg_quality <= 95:
            raise ValueError(f"jpeg_quality must be in 1..95, got {self.jpeg_quality}")

    @property
    def aspect(self) -> float:
        """Width / height of a frame."""
        return self.frame_hw[1] / self.frame_hw[0]

    def window(self, side: int) -> tuple[int, int, int, int]:
        """(top, left, height, width) of the pixels of a ``side`` x ``side`` render that
        make a frame: the centred aspect crop, then the zoom crop."""
        h, w = self.frame_hw
        ch = max(1, round(side * h / max(h, w)))
        cw = max(1, round(side * w / max(h, w)))
        top, left = (side - ch) // 2, (side - cw) // 2
        zh, zw = max(1, round(ch * self.zoom)), max(1, round(cw * self.zoom))
        top += round((ch - zh) * self.offset[0])
        left += round((cw - zw) * self.offset[1])
        return top, left, zh, zw

    def apply(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A square render ``(S, S, 3)`` uint8 -> a video frame ``(H, W, 3)`` uint8 (the
        noise drawn from ``rng``)."""
        from PIL import Image, ImageFilter

        if image.ndim != 3 or image.shape[0] != image.shape[1] or image.shape[2] != 3:
            raise ValueError(f"expected a square (S, S, 3) render, got shape {image.shape}")
        top, left, ch, cw = self.window(image.shape[0])
        pil = Image.fromarray(np.ascontiguousarray(image[top:top + ch, left:left + cw]))
        h, w = self.frame_hw
        if (ch, cw) != (h, w):
            pil = pil.resize((w, h), Image.BILINEAR if ch < h else Image.BOX)
        if self.blur > 0:
            pil = pil.filter(ImageFilter.GaussianBlur(self.blur))
        frame = np.asarray(pil)
        if self.noise > 0:
            noisy = frame + rng.normal(0.0, 255.0 * self.noise, frame.shape)
            frame = np.clip(np.rint(noisy), 0, 255).astype(np.uint8)
        if self.jpeg_quality is not None:
            frame = jpeg_round_trip(frame, self.jpeg_quality)
        return frame

    def apply_all(self, images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Square renders ``(T, S, S, 3)`` -> frames ``(T, H, W, 3)``."""
        return np.stack([self.apply(im, rng) for im in images])


def jpeg_round_trip(frame: np.ndarray, quality: int) -> np.ndarray:
    """``frame`` (H, W, 3) uint8 encoded as a JPEG of ``quality`` and decoded again."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(frame).save(buffer, format="JPEG", quality=int(quality))
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return np.asarray(decoded.convert("RGB"))


def sample_post(rng: np.random.Generator, frame_hw: tuple[int, int]) -> PostProcess:
    """A random way frames of size ``frame_hw`` come out of a camera."""
    zoom = float(rng.uniform(*ZOOM)) if rng.random() < 0.5 else 1.0
    offset = (float(rng.uniform(0.2, 0.8)), float(rng.uniform(0.2, 0.8)))
    blur = float(rng.uniform(*BLUR)) if rng.random() < 0.6 else 0.0
    noise = float(rng.uniform(*NOISE)) if rng.random() < 0.6 else 0.0
    quality = int(rng.integers(JPEG_QUALITY[0], JPEG_QUALITY[1] + 1)) \
        if rng.random() < JPEG_PROB else None
    return PostProcess(frame_hw=frame_hw, zoom=zoom, offset=offset, blur=blur, noise=noise,
                       jpeg_quality=quality)
