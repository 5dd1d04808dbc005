"""Where the cubes are in a frame: a small fully convolutional keypoint net.

The video reader (:mod:`perception.reader`) judges a crop around the cubes
(:mod:`perception.crop`); this net finds them. It maps a frame squashed to ``INPUT`` pixels
square to one heat map per cube colour (``sim``'s red, green and blue, in that order) at a
quarter of the input's resolution, trained with a spatial softmax against the cube's true
image point, which the simulator knows. A point is read as the heat-weighted mean of the
cells around the hottest one (sub-cell precision). Beside each heat map, four maps say how
big a cube at that cell looks (:meth:`sim.styles.Style.cube_geometry`: the image vector of
one cube height up and of one cube side across), read with the same weights; they give the
cube tracks (:mod:`perception.tracks`) their length scale in any view. It is trained in
seconds to minutes on randomised frames (``experiments.imitation.styled_frames``) and is
tiny (~0.1 M parameters).
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

INPUT = 128
"""Side of the square input (pixels); frames of any size are squashed to it."""
N_POINTS = 3
"""One heat map per cube."""
N_GEOMETRY = 4
"""Per cube: one cube height up and one cube side across, (row, column) fractions each."""
GEOMETRY_SCALE = 10.0
"""The geometry maps predict fractions times this (values near 1)."""
MIRROR_SIGN = (1.0, -1.0, -1.0, 1.0)
"""How a cube's geometry changes in the left-right mirrored frame: the up vector's column
and (the side vector being kept pointing right) the side vector's row change sign."""


class Localiser(torch.nn.Module):
    """Frames ``(B, 3, INPUT, INPUT)`` in [0, 1] -> ``(B, N_POINTS * (1 + N_GEOMETRY),
    INPUT/4, INPUT/4)``: the cubes' heat logits, then each cube's geometry maps."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()

        def block(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> list:
            return [torch.nn.Conv2d(cin, cout, 3, stride, padding=dilation, dilation=dilation,
                                    bias=False), torch.nn.BatchNorm2d(cout), torch.nn.ReLU(True)]

        w = width
        self.body = torch.nn.Sequential(
            *block(3, w // 2, 2), *block(w // 2, w // 2), *block(w // 2, w, 2), *block(w, w),
            *block(w, w, dilation=2), *block(w, w, dilation=4), *block(w, w, dilation=8),
            torch.nn.Conv2d(w, N_POINTS * (1 + N_GEOMETRY), 1))
        self.width = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x - 0.5)


def to_input(frames: np.ndarray) -> torch.Tensor:
    """``(B, H, W, 3)`` uint8 frames -> ``(B, 3, INPUT, INPUT)`` float in [0, 1] (squashed)."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 255
    if x.shape[-2:] != (INPUT, INPUT):
        x = F.interpolate(x, size=(INPUT, INPUT), mode="bilinear", antialias=True,
                          align_corners=False)
    return x


def _peak_weights(logits: torch.Tensor, window: int) -> torch.Tensor:
    """Heat logits ``(B, K, G, G)`` -> softmax weights over the cells within ``window`` of
    the hottest one (zero elsewhere)."""
    b, k, g, _ = logits.shape
    best = logits.flatten(2).argmax(-1)  # (B, K)
    r0, c0 = (best // g).float(), (best % g).float()
    cells = torch.arange(g, dtype=torch.float32)
    near = ((cells.view(1, 1, g, 1) - r0[..., None, None]).abs() <= window) & \
           ((cells.view(1, 1, 1, g) - c0[..., None, None]).abs() <= window)
    return torch.softmax(logits.masked_fill(~near, -1e9).flatten(2), -1).view(b, k, g, g)


def _weighted_points(p: torch.Tensor) -> np.ndarray:
    """Cell weights ``(B, K, G, G)`` -> their mean point ``(B, K, 2)`` (row, column fractions)."""
    g = p.shape[-1]
    cells = torch.arange(g, dtype=torch.float32) + 0.5
    r = (p.sum(-1) * cells).sum(-1)
    c = (p.sum(-2) * cells).sum(-1)
    return (torch.stack([r, c], -1) / g).numpy()


def read_points(logits: torch.Tensor, window: int = 2) -> np.ndarray:
    """Heat maps ``(B, K, G, G)`` -> points ``(B, K, 2)`` as (row, column) fractions: the
    softmax-weighted mean of the cells within ``window`` of the hottest one."""
    return _weighted_points(_peak_weights(logits, window))


def read(out: torch.Tensor, window: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """The localiser's output -> cube points ``(B, K, 2)`` and cube geometry ``(B, K, 4)``
    (fractions), the geometry read with the points' weights."""
    b, _, g, _ = out.shape
    logits, maps = out[:, :N_POINTS], out[:, N_POINTS:].view(b, N_POINTS, N_GEOMETRY, g, g)
    p = _peak_weights(logits, window)
    geometry = (maps * p[:, :, None]).sum((-1, -2)) / GEOMETRY_SCALE
    return _weighted_points(p), geometry.numpy()


@dataclass(frozen=True)
class LocaliserTrainConfig:
    """How the localiser is trained."""

    epochs: int = 12
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-4
    width: int = 32
    seed: int = 0
    threads: int = 2
    geometry_weight: float = 1.0
    """Weight of the geometry maps' L1 loss (at the true cells) beside the points' loss."""
    channel_gain: float = 0.0
    """Each colour channel's gain is jittered by up to this fraction (a tinted light)."""


def _augment(x: torch.Tensor, pts: torch.Tensor, geo: torch.Tensor, gen: torch.Generator,
             channel_gain: float = 0.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mirror half the batch left-right (points and geometry follow: the up vector's column
    changes sign, the side vector, kept pointing right, its row) and jitter brightness,
    contrast and, by up to ``channel_gain``, each colour channel's gain."""
    b = x.shape[0]
    flip = torch.rand(b, generator=gen) < 0.5
    x = torch.where(flip.view(b, 1, 1, 1), x.flip(-1), x)
    pts, geo = pts.clone(), geo.clone()
    pts[flip, :, 1] = 1 - pts[flip, :, 1]
    geo[flip] = geo[flip] * torch.tensor(MIRROR_SIGN)
    mean = x.mean((1, 2, 3), keepdim=True)
    contrast = 1 + (torch.rand(b, 1, 1, 1, generator=gen) - 0.5) * 0.5
    bright = 1 + (torch.rand(b, 1, 1, 1, generator=gen) - 0.5) * 0.5
    bright = bright * (1 + (torch.rand(b, 3, 1, 1, generator=gen) * 2 - 1) * channel_gain)
    return (((x - mean) * contrast + mean) * bright).clamp(0, 1), pts, geo


def _targets(pts: torch.Tensor, g: int) -> torch.Tensor:
    """Points ``(B, K, 2)`` fractions -> flat cell index ``(B, K)``."""
    cell = (pts.clamp(0, 1 - 1e-6) * g).long()
    return cell[..., 0] * g + cell[..., 1]


def train_localiser(frames: np.ndarray, points: np.ndarray, geometry: np.ndarray,
                    cfg: LocaliserTrainConfig | None = None,
                    progress: bool = True) -> tuple[Localiser, dict[str, Any]]:
    """Train on ``frames`` ``(N, H, W, 3)`` uint8 with their cubes' ``points`` ``(N, 3, 2)``
    and ``geometry`` ``(N, 3, 4)`` (:meth:`sim.styles.Style.cube_geometry`)."""
    from tqdm import tqdm

    cfg = cfg or LocaliserTrainConfig()
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    t0 = time.perf_counter()
    x_all = torch.cat([to_input(frames[i:i + 256]) for i in range(0, len(frames), 256)])
    x_all = (x_all * 255).round().to(torch.uint8)
    p_all = torch.from_numpy(np.asarray(points, dtype=np.float32))
    g_all = torch.from_numpy(np.asarray(geometry, dtype=np.float32)) * GEOMETRY_SCALE
    if p_all.shape != (len(x_all), N_POINTS, 2) or g_all.shape != (len(x_all), N_POINTS, N_GEOMETRY):
        raise ValueError(f"{len(x_all)} frames need points ({len(x_all)}, {N_POINTS}, 2) and "
                         f"geometry ({len(x_all)}, {N_POINTS}, {N_GEOMETRY}), got "
                         f"{tuple(p_all.shape)} and {tuple(g_all.shape)}")
    net = Localiser(cfg.width)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    n, batch = len(x_all), min(cfg.batch_size, len(x_all))
    steps = cfg.epochs * max(1, n // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=steps, pct_start=0.1)
    bar = tqdm(total=steps, desc="train localiser", unit="step", disable=not progress, leave=False)
    net.train()
    for _ in range(cfg.epochs):
        perm = torch.randperm(n, generator=gen)
        for i in range(max(1, n // batch)):
            idx = perm[i * batch:(i + 1) * batch]
            x, pts, geo = _augment(x_all[idx].float() / 255, p_all[idx], g_all[idx], gen,
                                   cfg.channel_gain)
            out = net(x)
            b, _, g, _ = out.shape
            cells = _targets(pts, g)  # (B, K)
            loss = F.cross_entropy(out[:, :N_POINTS].flatten(2).flatten(0, 1), cells.flatten())
            maps = out[:, N_POINTS:].reshape(b, N_POINTS, N_GEOMETRY, g * g)
            at = maps.gather(-1, cells[:, :, None, None].expand(b, N_POINTS, N_GEOMETRY, 1))
            loss = loss + cfg.geometry_weight * F.smooth_l1_loss(at[..., 0], geo, beta=0.1)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}")
    bar.close()
    net.eval()
    return net, {"train_frames": n, "steps": steps, "config": asdict(cfg),
                 "seconds": round(time.perf_counter() - t0, 1)}


def _unmirror(out: torch.Tensor) -> torch.Tensor:
    """The localiser's output on a mirrored frame -> its output in the frame's own layout."""
    b, _, g, _ = out.shape
    maps = out[:, N_POINTS:].reshape(b, N_POINTS, N_GEOMETRY, g, g)
    maps = maps * torch.tensor(MIRROR_SIGN).view(1, 1, N_GEOMETRY, 1, 1)
    return torch.cat([out[:, :N_POINTS], maps.flatten(1, 2)], 1).flip(-1)


@torch.no_grad()
def measure(net: Localiser, frames: np.ndarray, chunk: int = 64,
            mirror: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``(N, H, W, 3)`` uint8 frames -> cube points ``(N, 3, 2)`` (row, column fractions) and
    cube geometry ``(N, 3, 4)`` (see :meth:`sim.styles.Style.cube_geometry`). With
    ``mirror``, the output is averaged with the output on the mirrored frame (trained with
    mirroring, the net has no side; on styled frames of the training families, all three
    cubes within 0.05: 0.74 vs 0.72, held-out families 0.89 vs 0.86)."""
    def forward(x: torch.Tensor) -> torch.Tensor:
        out = net(x)
        return (out + _unmirror(net(x.flip(-1)))) / 2 if mirror else out

    out = [read(forward(to_input(frames[i:i + chunk]))) for i in range(0, len(frames), chunk)]
    if not out:
        return np.zeros((0, N_POINTS, 2), np.float32), np.zeros((0, N_POINTS, N_GEOMETRY), np.float32)
    return np.concatenate([o[0] for o in out]), np.concatenate([o[1] for o in out])


def locate(net: Localiser, frames: np.ndarray, chunk: int = 64, mirror: bool = True) -> np.ndarray:
    """``(N, H, W, 3)`` uint8 frames -> cube points ``(N, 3, 2)`` (row, column fractions)."""
    return measure(net, frames, chunk, mirror)[0]


def point_error(pred: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Median and 90th percentile distance between points (fractions of the frame side),
    and the share within 0.05."""
    d = np.linalg.norm(np.asarray(pred) - np.asarray(truth), axis=-1).ravel()
    return {"median": float(np.median(d)), "p90": float(np.percentile(d, 90)),
            "within_0.05": float(np.mean(d <= 0.05))}


def geometry_error(pred: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Median error of geometry ``(N, K, 4)`` relative to the true cube side's length: of the
    side's length and of the up vector."""
    pred, truth = np.asarray(pred, dtype=np.float64), np.asarray(truth, dtype=np.float64)
    side = np.maximum(np.linalg.norm(truth[..., 2:], axis=-1), 1e-9)
    return {"side_rel_median": float(np.median(np.abs(np.linalg.norm(pred[..., 2:], axis=-1) - side) / side)),
            "up_rel_median": float(np.median(np.linalg.norm(pred[..., :2] - truth[..., :2], axis=-1) / side))}
