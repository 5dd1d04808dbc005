"""Randomised single-view frames for the video reader: every episode in a look of its own.

Here (not in perception) because it composes sim's styles with perception's dataset format.
Like :mod:`perception.dataset` (whose on-disk format and :func:`perception.dataset.load_split`
this reuses), a split is simulator frames captioned from the ground-truth predicates, driven
by the "purposeful random" actor. Unlike it, every episode is rendered in a style drawn by
:func:`sim.styles.sample_style` (one camera anywhere around the table, another arm, light,
table, props, cube looks) and every frame goes through that style's post-processing (aspect
crop, frame size, blur, noise, JPEG), then is squashed to ``frame_size`` square, exactly as
the detector resizes any video frame. Frames in which a cube falls outside the picture, or
is mostly hidden behind an arm, are not kept (the caption could not be read off them).
With ``crop_size``, every frame also gets its workspace crop (:mod:`perception.crop`) around
the cubes' true image points, cut from the full-size video frame with a random error in
place and size like a localiser's (``crops.npz``, beside the cubes' points and how big a
cube looks there: :meth:`sim.styles.Style.cube_geometry`).

Splits: ``train`` and ``val`` draw styles from :data:`sim.styles.TRAIN`; ``held-out-arm``,
``held-out-sector`` and ``held-out-surface`` replace one factor's families by the held-out
ones (leave-one-style-out), ``held-out`` all three. Each split has its own seed range
(``sim.seeds.STYLED``), so no scene or look is shared between splits.
"""
from __future__ import annotations

import json
import multiprocessing as mp
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from perception.captions import CAPTIONS, caption_to_predicate, captions_from_predicates
from perception.crop import CropRule, crop
from perception.dataset import (
    FRAMES_FILE, MANIFEST_FILE, exploring_action, stable_motion_index,
)
from sim.seeds import STYLED as STYLED_SEEDS, STYLED_SPLITS
from sim.styles import HELD_OUT, TRAIN, Families, Style, sample_style

STYLED_VERSION = 3
CROPS_FILE = "crops.npz"
_INSTRUCTION = "stack all three objects"
MAX_EPISODES_PER_FRAME = 2
"""Generation gives up after this many episodes per requested frame (cubes out of view)."""
_MOTION_CANDIDATES = 32


def split_families(split: str) -> Families:
    """The style families a split draws from."""
    if split not in STYLED_SPLITS:
        raise ValueError(f"unknown styled split {split!r}; splits: {', '.join(STYLED_SPLITS)}")
    if split in ("train", "val"):
        return TRAIN
    if split == "held-out":
        return HELD_OUT
    factor = {"held-out-arm": "arms", "held-out-sector": "sectors",
              "held-out-surface": "surfaces"}[split]
    return TRAIN.with_(**{factor: getattr(HELD_OUT, factor)})


@dataclass(frozen=True)
class StyledConfig:
    """What to generate for one styled split."""

    split: str = "train"
    n_frames: int = 1000
    seed: int = 0
    """Selects another block of episode seeds within the split's range."""
    steps_per_episode: int = 6
    render_size: int = 128
    """Side of the square render before post-processing (pixels)."""
    frame_size: int = 96
    """Side of the stored frames: a post-processed video frame squashed to a square."""
    motion_every: int = 2
    """Every ``motion_every``-th episode also keeps one mid-motion frame per step (0: never)."""
    random_action_prob: float = 0.15
    view_margin: float = 0.03
    """Every cube centre must lie this far (a fraction of the frame) inside the picture."""
    crop_size: int = 0
    """Side of the stored workspace crops (pixels; 0: no crops)."""
    crop_jitter: float = 0.06
    """Crop error: the crop's centre moves up to this fraction of the frame's short side, and
    its side changes by up to 2.5 times this fraction (a localiser's misses)."""
    min_visible: float = 0.25
    """Reset and step frames: every cube must show at least this much of itself
    (:meth:`sim.world.World.cube_visibility`; an arm in front of it hides it). Mid-motion
    frames are checked for the view only."""

    def __post_init__(self) -> None:
        split_families(self.split)
        if self.n_frames < 1 or self.steps_per_episode < 1 or self.motion_every < 0:
            raise ValueError("n_frames and steps_per_episode must be >= 1, motion_every >= 0")
        if self.crop_size and self.crop_size < 16:
            raise ValueError("crop_size must be 0 (none) or >= 16 pixels")
        if self.render_size < 16 or self.frame_size < 16:
            raise ValueError("render_size and frame_size must be >= 16 pixels")
        if not 0.0 <= self.min_visible <= 1.0:
            raise ValueError(f"min_visible must be in [0, 1], got {self.min_visible}")
        if not 0.0 <= self.view_margin < 0.5:
            raise ValueError(f"view_margin must be in [0, 0.5), got {self.view_margin}")

    def episode_seed(self, episode: int) -> int:
        """Scene and style seed of ``episode``."""
        return STYLED_SEEDS[self.split].seed(self.seed, episode)

    def style(self, episode: int) -> Style:
        """The look of ``episode``."""
        return sample_style(self.episode_seed(episode), split_families(self.split),
                            image_size=self.render_size)


def _frame(style: Style, rgb: np.ndarray, points: np.ndarray, cfg: StyledConfig,
           rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None]:
    """A render ``(1, S, S, 3)`` -> the style's video frame squashed to ``(1, size, size, 3)``
    and, with ``cfg.crop_size``, its jittered workspace crop around ``points`` (K, 2)."""
    from PIL import Image

    frame = style.frames(rgb[None], rng)[0, 0]  # (H, W, 3) as the video would have it
    square = Image.fromarray(frame).resize((cfg.frame_size, cfg.frame_size), Image.BILINEAR,
                                           reducing_gap=None)
    if not cfg.crop_size:
        return np.asarray(square)[None], None
    top, left, side = CropRule().window(points, frame.shape[:2])
    j = cfg.crop_jitter * min(frame.shape[:2])
    side = int(np.clip(side * (1 + rng.uniform(-2.5, 2.5) * cfg.crop_jitter), 16,
                       min(frame.shape[:2])))
    top = int(np.clip(top + rng.uniform(-j, j), 0, frame.shape[0] - side))
    left = int(np.clip(left + rng.uniform(-j, j), 0, frame.shape[1] - side))
    return np.asarray(square)[None], crop(frame, (top, left, side), cfg.crop_size)[None]


def _episode(cfg: StyledConfig, episode: int) -> list[tuple]:
    """One episode in its own style: (frame (1, S, S, 3), predicates, record, state, cube
    points (3, 2), crop (1, C, C, 3) or None, cube geometry (3, 4)) tuples."""
    from sim import EnvConfig, make_env
    from sim.objects import COLORS

    seed = cfg.episode_seed(episode)
    style = cfg.style(episode)
    motion = cfg.motion_every > 0 and episode % cfg.motion_every == 0
    env = make_env(_INSTRUCTION, EnvConfig(horizon=cfg.steps_per_episode + 1,
                                           motion_frames=_MOTION_CANDIDATES if motion else 0,
                                           visual=style.visual, lazy_motion=True))
    rng = np.random.default_rng(seed)
    world = env.unwrapped.world
    base = {"seed": seed, "arm": style.arm, "sector": style.sectors[0], "surface": style.surface}
    out = []

    def keep(rgb: np.ndarray, preds: dict, step: int, kind: str, state: np.ndarray,
             cubes: np.ndarray, posed: bool = True) -> None:
        if not style.in_view(cubes, margin=cfg.view_margin).all():
            return
        if not posed or (world.cube_visibility(0) >= cfg.min_visible).all():
            points = style.frame_coords(cubes)  # (3, 2)
            frame, cropped = _frame(style, rgb, points, cfg, rng)
            out.append((frame, preds, dict(base, step=step, kind=kind), state, points, cropped,
                        style.cube_geometry(cubes, world.cube_size)))

    try:
        obs, info = env.reset(seed=seed)
        positions = lambda: np.stack([world.positions()[c] for c in COLORS])  # noqa: E731
        keep(obs["rgb"], info["predicates"], 0, "reset", obs["state"], positions())
        for step in range(1, cfg.steps_per_episode + 1):
            obs, _, _, _, info = env.step(exploring_action(env, rng, cfg.random_action_prob))
            kind = info["primitive"]
            if motion and len(info["motion_frames"]) > 2:
                i = stable_motion_index(info["motion_predicates"], rng)
                state = info["motion_states"][i]
                keep(info["motion_frames"][i], info["motion_predicates"][i], step, f"mid-{kind}",
                     state, state[:9].reshape(3, 3), posed=False)
            keep(obs["rgb"], info["predicates"], step, kind, obs["state"], positions())
    finally:
        env.close()
    return out


def _worker(args: tuple[StyledConfig, list[int]]) -> list[tuple[int, list]]:
    cfg, episodes = args
    return [(e, _episode(cfg, e)) for e in episodes]


def generate_styled(out_dir: str | os.PathLike, cfg: StyledConfig, workers: int = 2,
                    progress: bool = True) -> Path:
    """Generate styled split ``cfg`` into ``out_dir`` (frames.npz + manifest.json, readable by
    :func:`perception.dataset.load_split`); returns the directory. Depends only on ``cfg``."""
    from tqdm import tqdm

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    by_episode: dict[int, list] = {}
    bar = tqdm(total=cfg.n_frames, desc=f"styled frames ({cfg.split})", unit="frame",
               disable=not progress, leave=False)
    pool = mp.get_context("spawn").Pool(workers) if workers > 1 else None
    try:
        next_episode, chunk = 0, 2 * max(1, workers)
        while sum(map(len, by_episode.values())) < cfg.n_frames:  # episodes until enough frames
            if next_episode > MAX_EPISODES_PER_FRAME * cfg.n_frames:
                raise RuntimeError(f"styled split {cfg.split}: {next_episode} episodes gave only "
                                   f"{sum(map(len, by_episode.values()))} frames with every "
                                   "cube in view; lower view_margin")
            jobs = [(cfg, [e]) for e in range(next_episode, next_episode + chunk)]
            next_episode += chunk
            results = pool.map(_worker, jobs) if pool else [_worker(j) for j in jobs]
            for part in results:
                for e, items in part:
                    by_episode[e] = items
                    bar.update(len(items))
    finally:
        if pool:
            pool.close()
            pool.join()
        bar.close()
    items = [it for e in sorted(by_episode) for it in by_episode[e]][: cfg.n_frames]
    frames = np.stack([it[0] for it in items])  # (N, 1, S, S, 3)
    labels = np.array([[bool(it[1][caption_to_predicate(c)]) for c in CAPTIONS]
                       for it in items], dtype=bool)  # (N, 9)
    states = np.stack([it[3] for it in items]).astype(np.float32)  # (N, 13)
    records = [dict(it[2], captions=captions_from_predicates(it[1])) for it in items]
    np.savez_compressed(out / FRAMES_FILE, frames=frames, labels=labels, states=states)
    if cfg.crop_size:
        points = np.stack([it[4] for it in items]).astype(np.float32)  # (N, 3, 2)
        geometry = np.stack([it[6] for it in items]).astype(np.float32)  # (N, 3, 4)
        np.savez_compressed(out / CROPS_FILE, crops=np.stack([it[5] for it in items]),
                            points=points, geometry=geometry)
    manifest: dict[str, Any] = {
        "generator": "styled", "generator_version": STYLED_VERSION, "config": asdict(cfg),
        "captions": list(CAPTIONS), "n_frames": len(items),
        "frame_shape": list(frames.shape[1:]),
        "episodes": len(by_episode),
        "positives_per_caption": dict(zip(CAPTIONS, labels.sum(0).tolist())),
        "families": {k: sorted({r[k] for r in records}) for k in ("arm", "sector", "surface")},
        "seconds": round(time.perf_counter() - t0, 2), "frames": records,
    }
    (out / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1))
    return out
