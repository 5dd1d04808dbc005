"""The video reader's parts: the workspace crop rule and the cube localiser."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from perception.crop import CropRule, crop
from perception.localise import (
    INPUT, LocaliserTrainConfig, geometry_error, measure, point_error, read_points,
    train_localiser,
)


def test_crop_window_holds_the_points_inside_the_frame() -> None:
    rule = CropRule()
    pts = np.array([[0.1, 0.05], [0.2, 0.15], [0.15, 0.1]])  # near the top-left corner
    top, left, side = rule.window(pts, (240, 320))
    assert side >= rule.min_side * 240 and side <= 240
    assert top == 0 and left == 0  # pushed inside the frame
    rows, cols = pts[:, 0] * 240, pts[:, 1] * 320
    assert (rows >= top).all() and (rows <= top + side).all()
    assert (cols >= left).all() and (cols <= left + side).all()
    far = rule.window(np.array([[0.1, 0.1], [0.9, 0.9]]), (300, 400))
    assert far[2] == 300  # never more than the short side
    assert rule.window(np.full((3, 2), np.nan), (200, 200)) == rule.window([[0.5, 0.5]], (200, 200))


def test_crop_resizes_the_window() -> None:
    frame = np.zeros((240, 320, 3), np.uint8)
    frame[100:110, 200:210] = 255
    out = crop(frame, (60, 160, 100), 50)
    assert out.shape == (50, 50, 3)
    assert out[20:25, 20:25].mean() > 200 and out[:10].max() == 0


def test_read_points_finds_the_hot_cell() -> None:
    logits = torch.full((1, 3, 32, 32), -10.0)
    logits[0, 0, 8, 24] = logits[0, 1, 30, 2] = logits[0, 2, 16, 16] = 10.0
    pts = read_points(logits)[0]
    expected = (np.array([[8, 24], [30, 2], [16, 16]]) + 0.5) / 32
    assert np.abs(pts - expected).max() < 1e-3


def _squares(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frames of noise with a red, a green and a blue square at random places, each of its
    own size (half side 3 to 9 pixels); the geometry is that side, up and across."""
    rng = np.random.default_rng(seed)
    frames = rng.integers(60, 200, (n, INPUT, INPUT, 3)).astype(np.uint8)
    points = rng.uniform(0.1, 0.9, (n, 3, 2))
    half = rng.integers(3, 10, (n, 3))
    for i in range(n):
        for k, rgb in enumerate(((220, 20, 20), (20, 200, 30), (20, 40, 220))):
            r, c = (points[i, k] * INPUT).astype(int)
            h = half[i, k]
            frames[i, r - h:r + h, c - h:c + h] = rgb
    side = 2 * half / INPUT
    zero = np.zeros_like(side)
    geometry = np.stack([-side, zero, zero, side], -1)
    return frames, points.astype(np.float32), geometry.astype(np.float32)


def test_localiser_learns_to_find_coloured_squares_and_their_size() -> None:
    frames, points, geometry = _squares(256, 0)
    net, meta = train_localiser(frames, points, geometry, LocaliserTrainConfig(epochs=12),
                                progress=False)
    test_frames, test_points, test_geometry = _squares(64, 1)
    found, sizes = measure(net, test_frames)
    err = point_error(found, test_points)
    chance = point_error(np.full_like(test_points, 0.5), test_points)
    assert err["median"] < 0.04 < chance["median"], (err, chance)
    size_err = geometry_error(sizes, test_geometry)
    mean_size = geometry_error(np.broadcast_to(geometry.mean((0, 1)), test_geometry.shape),
                               test_geometry)
    assert size_err["side_rel_median"] < 0.2 < mean_size["side_rel_median"], (size_err, mean_size)
    assert meta["train_frames"] == 256


def test_localiser_training_refuses_mismatched_targets() -> None:
    frames, points, geometry = _squares(8, 0)
    with pytest.raises(ValueError, match="geometry"):
        train_localiser(frames, points, geometry[:, :, :2], progress=False)


def test_mirrored_reading_has_no_side() -> None:
    """Averaged with its mirror image, the localiser reads a mirrored frame as the mirror of
    the frame's reading: columns reflect, the up vector's column and the side vector's row
    change sign (trained weights or not)."""
    from perception.localise import MIRROR_SIGN, Localiser

    torch.manual_seed(0)
    net = Localiser(8).eval()
    frames, _, _ = _squares(4, 2)
    points, geometry = measure(net, frames)
    m_points, m_geometry = measure(net, np.ascontiguousarray(frames[:, :, ::-1]))
    assert np.allclose(m_points[..., 0], points[..., 0], atol=1e-5)
    assert np.allclose(m_points[..., 1], 1 - points[..., 1], atol=1e-5)
    assert np.allclose(m_geometry, geometry * np.array(MIRROR_SIGN), atol=1e-5)
    plain = measure(net, frames, mirror=False)[0]  # the net alone has a side
    m_plain = measure(net, np.ascontiguousarray(frames[:, :, ::-1]), mirror=False)[0]
    assert not np.allclose(m_plain[..., 1], 1 - plain[..., 1], atol=1e-3)
