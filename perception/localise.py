"""Where the cubes are in a frame: a small fully convolutional keypoint net.

The video reader (:mod:`perception.reader`) judges a crop around the cubes
(:mod:`perception.crop`); this net finds them. It maps a frame squashed to ``INPUT`` pixels
square to one heat map per cube colour (``sim``'s red, green and blue, in that order) at a
quarter of the input's resolution, trained with a spatial softmax against the cube's true
image point, which the simulator knows. A point is read as the heat-weighted mean of the
cells around the hottest one (sub-cell precision). It is trained in seconds to minutes on
randomised frames (``experiments.imitation.styled_frames``) and is tiny (~0.1 M parameters).
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


class Localiser(torch.nn.Module):
    """Frames ``(B, 3, INPUT, INPUT)`` in [0, 1] -> logits ``(B, N_POINTS, INPUT/4, INPUT/4)``."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()

        def block(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> list:
            return [torch.nn.Conv2d(cin, cout, 3, stride, padding=dilation, dilation=dilation,
                                    bias=False), torch.nn.BatchNorm2d(cout), torch.nn.ReLU(True)]

        w = width
        self.body = torch.nn.Sequential(
            *block(3, w // 2, 2), *block(w // 2, w // 2), *block(w // 2, w, 2), *block(w, w),
            *block(w, w, dilation=2), *block(w, w, dilation=4), *block(w, w, dilation=8),
            torch.nn.Conv2d(w, N_POINTS, 1))
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


def read_points(logits: torch.Tensor, window: int = 2) -> np.ndarray:
    """Heat maps ``(B, K, G, G)`` -> points ``(B, K, 2)`` as (row, column) fractions: the
    softmax-weighted mean of the cells within ``window`` of the hottest one."""
    b, k, g, _ = logits.shape
    flat = logits.flatten(2)
    best = flat.argmax(-1)  # (B, K)
    r0, c0 = (best // g).float(), (best % g).float()
    rows = torch.arange(g, dtype=torch.float32).view(1, 1, g, 1).expand(b, k, g, g)
    cols = torch.arange(g, dtype=torch.float32).view(1, 1, 1, g).expand(b, k, g, g)
    near = ((rows - r0[..., None, None]).abs() <= window) & \
           ((cols - c0[..., None, None]).abs() <= window)
    p = torch.softmax(logits.masked_fill(~near, -1e9).flatten(2), -1).view(b, k, g, g)
    r = (p * rows).sum((-1, -2)) + 0.5
    c = (p * cols).sum((-1, -2)) + 0.5
    return (torch.stack([r, c], -1) / g).numpy()


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


def _augment(x: torch.Tensor, pts: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Mirror half the batch left-right (points follow) and jitter brightness and contrast."""
    b = x.shape[0]
    flip = torch.rand(b, generator=gen) < 0.5
    x = torch.where(flip.view(b, 1, 1, 1), x.flip(-1), x)
    pts = pts.clone()
    pts[flip, :, 1] = 1 - pts[flip, :, 1]
    mean = x.mean((1, 2, 3), keepdim=True)
    contrast = 1 + (torch.rand(b, 1, 1, 1, generator=gen) - 0.5) * 0.5
    bright = 1 + (torch.rand(b, 1, 1, 1, generator=gen) - 0.5) * 0.5
    return (((x - mean) * contrast + mean) * bright).clamp(0, 1), pts


def _targets(pts: torch.Tensor, g: int) -> torch.Tensor:
    """Points ``(B, K, 2)`` fractions -> flat cell index ``(B, K)``."""
    cell = (pts.clamp(0, 1 - 1e-6) * g).long()
    return cell[..., 0] * g + cell[..., 1]


def train_localiser(frames: np.ndarray, points: np.ndarray, cfg: LocaliserTrainConfig | None = None,
                    progress: bool = True) -> tuple[Localiser, dict[str, Any]]:
    """Train on ``frames`` ``(N, H, W, 3)`` uint8 with their cubes' ``points`` ``(N, 3, 2)``."""
    from tqdm import tqdm

    cfg = cfg or LocaliserTrainConfig()
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    t0 = time.perf_counter()
    x_all = torch.cat([to_input(frames[i:i + 256]) for i in range(0, len(frames), 256)])
    x_all = (x_all * 255).round().to(torch.uint8)
    p_all = torch.from_numpy(np.asarray(points, dtype=np.float32))
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
            x, pts = _augment(x_all[idx].float() / 255, p_all[idx], gen)
            logits = net(x)
            g = logits.shape[-1]
            loss = F.cross_entropy(logits.flatten(2).flatten(0, 1), _targets(pts, g).flatten())
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


@torch.no_grad()
def locate(net: Localiser, frames: np.ndarray, chunk: int = 64) -> np.ndarray:
    """``(N, H, W, 3)`` uint8 frames -> cube points ``(N, 3, 2)`` (row, column fractions)."""
    out = [read_points(net(to_input(frames[i:i + chunk]))) for i in range(0, len(frames), chunk)]
    return np.concatenate(out) if out else np.zeros((0, N_POINTS, 2), np.float32)


def point_error(pred: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Median and 90th percentile distance between points (fractions of the frame side),
    and the share within 0.05."""
    d = np.linalg.norm(np.asarray(pred) - np.asarray(truth), axis=-1).ravel()
    return {"median": float(np.median(d)), "p90": float(np.percentile(d, 90)),
            "within_0.05": float(np.mean(d <= 0.05))}
