"""Training-time image augmentation for robustness to camera pose and lighting changes.

Geometric: a random affine warp per image (rotation, scale, shear, translation) standing in
for small camera moves. Photometric: a random tint of the *unsaturated* pixels only (table,
arm, sky: the surfaces whose colour says nothing about a caption), brightness, contrast, a
small per-channel gain (light colour) and pixel noise. No hue rotation of the image: the
colour of a cube is what a caption is about, and the cubes are the saturated pixels, which
the tint leaves alone.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AugmentConfig:
    """Ranges of the random augmentations (each drawn uniformly, per image)."""

    background_tint: float = 0.25
    """Per-channel gain in [1 - t, 1 + t] applied to unsaturated pixels (table colour)."""
    tint_prob: float = 0.5
    """Fraction of images that get the background tint (the rest keep the table colour)."""
    rotate_deg: float = 6.0
    scale: float = 0.10
    """Zoom factor in [1 - scale, 1 + scale]."""
    shear: float = 0.06
    translate: float = 0.07
    """Shift as a fraction of the image side."""
    brightness: float = 0.25
    contrast: float = 0.25
    channel_gain: float = 0.08
    noise: float = 0.015
    saturation_band: tuple[float, float] = (0.3, 0.5)
    """Pixels below the first saturation get the full tint, above the second none."""


def _uniform(n: int, half_width: float, gen: torch.Generator) -> torch.Tensor:
    return (torch.rand(n, generator=gen) * 2 - 1) * half_width


def augment(x: torch.Tensor, gen: torch.Generator, cfg: AugmentConfig = AugmentConfig()) -> torch.Tensor:
    """Augment a float batch ``(B, 3, H, W)`` in [0, 1]; returns a new batch of the same shape."""
    b = x.shape[0]
    ang = _uniform(b, math.radians(cfg.rotate_deg), gen)
    zoom = 1 + _uniform(b, cfg.scale, gen)
    shear = _uniform(b, cfg.shear, gen)
    tx, ty = _uniform(b, 2 * cfg.translate, gen), _uniform(b, 2 * cfg.translate, gen)
    cos, sin = torch.cos(ang) / zoom, torch.sin(ang) / zoom
    theta = torch.stack([torch.stack([cos, -sin + shear, tx], 1),
                         torch.stack([sin, cos, ty], 1)], 1)  # (B, 2, 3) output -> input coords
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)  # (B, H, W, 2)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    x = tint_unsaturated(x, gen, cfg.background_tint, cfg.saturation_band, cfg.tint_prob)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    contrast = (1 + _uniform(b, cfg.contrast, gen)).view(b, 1, 1, 1)
    bright = (1 + _uniform(b, cfg.brightness, gen)).view(b, 1, 1, 1)
    gain = 1 + (torch.rand(b, 3, 1, 1, generator=gen) * 2 - 1) * cfg.channel_gain
    x = ((x - mean) * contrast + mean) * bright * gain
    x = x + torch.randn(x.shape, generator=gen) * cfg.noise
    return x.clamp_(0, 1)


def tint_unsaturated(x: torch.Tensor, gen: torch.Generator, strength: float,
                     band: tuple[float, float] = (0.3, 0.5), prob: float = 1.0) -> torch.Tensor:
    """Multiply unsaturated pixels of ``(B, 3, H, W)`` by a random per-image RGB gain
    (for a random fraction ``prob`` of the images).

    Saturation ``(max - min) / max`` is ~0.1 on the table and the arm and > 0.8 on the
    cubes; the gain fades out linearly across ``band``.
    """
    if strength <= 0:
        return x
    b = x.shape[0]
    hi, lo = x.amax(dim=1, keepdim=True), x.amin(dim=1, keepdim=True)  # (B, 1, H, W)
    sat = (hi - lo) / hi.clamp_min(1e-3)
    weight = ((band[1] - sat) / (band[1] - band[0])).clamp(0, 1)  # 1 on the table, 0 on cubes
    gain = 1 + (torch.rand(b, 3, 1, 1, generator=gen) * 2 - 1) * strength  # (B, 3, 1, 1)
    gain = torch.where(torch.rand(b, 1, 1, 1, generator=gen) < prob, gain, torch.ones_like(gain))
    return x * (1 + weight * (gain - 1))
