"""In-domain dataset generation: simulator frames captioned from the ground-truth predicates.

The only perception module that imports ``sim``. A *pair* is one simulator instant: both
camera images ``(2, 128, 128, 3)`` uint8 together with its full multi-label caption set (a
9-dim boolean vector over :data:`perception.captions.CAPTIONS`, from ``info["predicates"]``).

Episodes are driven by the scripted "purposeful random" actor (``random_expert_action``,
mixed with uniform random actions), so a split contains scattered cubes (reset frames),
the arm holding each cube (after picks), two-cube stacks and towers (after places) and
mid-motion frames rendered during the primitives (not at a ground-truth transition, see
:func:`stable_motion_index`). Every episode has its own seed; the
splits draw seeds from disjoint ranges (:data:`sim.seeds.PERCEPTION`), so held-out frames come
from configurations never seen in training. The ``shifted`` split renders every episode
with ``VisualConfig.shifted(seed)`` (moved cameras, other light, cube size and shade
jitter, another table colour): it is for evaluation only. The ``arm-colors`` and
``arm-colors-val`` splits are train and validation frames with the Panda painted in random
colours per episode (``VisualConfig.arm_colored(seed)``), for a detector that must read videos
of other robots (``langstack imitate``): it learns that the arm's colour is not a cube's.

On disk, a split is a directory with ``frames.npz`` (``frames`` (N, 2, H, W, 3) uint8,
``labels`` (N, 9) bool, ``states`` (N, 13) float32) and ``manifest.json`` (generator config, caption order, counts and
one record per frame: episode seed, step, kind, captions).
"""
from __future__ import annotations

import json
import multiprocessing as mp
import os
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from sim.seeds import PERCEPTION
from perception.captions import CAPTIONS, caption_to_predicate, captions_from_predicates

GENERATOR_VERSION = 7
SPLITS: tuple[str, ...] = ("train", "val", "test", "shifted", "arm-colors", "arm-colors-val")
FRAMES_FILE = "frames.npz"
MANIFEST_FILE = "manifest.json"
_INSTRUCTION = "stack all three objects"  # the task does not change what the cameras see
_MOTION_CANDIDATES = 32  # mid-primitive renders per step (env motion_frames): all of them


@dataclass(frozen=True)
class GenConfig:
    """What to generate for one split."""

    split: str = "train"
    """One of train, val, test (default visuals), shifted (evaluation only), arm-colors or
    arm-colors-val (the Panda in random colours)."""
    n_frames: int = 2000
    """Number of pairs (frames with their caption sets) to write."""
    seed: int = 0
    """Selects another block of episode seeds within the split's range."""
    steps_per_episode: int = 8
    """Pick/place steps per episode (reset frame + one frame per step)."""
    motion_every: int = 2
    """Every ``motion_every``-th episode also keeps one mid-motion frame per step (0: never).
    Rendering mid-primitive frames is what makes generation slow, so it is not done in the
    other episodes."""
    motion_states: bool = True
    """Keep the simulator state of mid-motion frames (the grasp point and finger opening
    while a cube is carried) as their auxiliary training target; False leaves them NaN."""
    plain_arm_every: int = 0
    """arm-colors splits only: in every block of ``2 * plain_arm_every`` episodes, the first
    two keep the Panda as rendered (one with mid-motion frames, one without), so the frames
    the agent itself sees are in the training distribution (0: every episode painted)."""
    random_action_prob: float = 0.15
    """Probability of a uniform random table position instead of the purposeful actor."""
    image_size: int = 128

    def __post_init__(self) -> None:
        if self.split not in SPLITS:
            raise ValueError(f"unknown split {self.split!r}; splits are: {', '.join(SPLITS)}")
        if self.n_frames < 1:
            raise ValueError(f"n_frames must be >= 1, got {self.n_frames}")
        if self.motion_every < 0 or self.steps_per_episode < 1 or self.plain_arm_every < 0:
            raise ValueError("motion_every and plain_arm_every must be >= 0 and "
                             "steps_per_episode >= 1")

    def has_motion(self, episode: int) -> bool:
        """Does ``episode`` keep mid-motion frames?"""
        return self.motion_every > 0 and episode % self.motion_every == 0

    def plain_arm(self, episode: int) -> bool:
        """Does ``episode`` of an arm-colors split keep the Panda as rendered?"""
        return (self.split.startswith("arm-colors") and self.plain_arm_every > 0
                and (episode // 2) % self.plain_arm_every == 0)

    def frames_in_episode(self, episode: int) -> int:
        return 1 + self.steps_per_episode * (2 if self.has_motion(episode) else 1)

    @property
    def n_episodes(self) -> int:
        total, e = 0, 0
        while total < self.n_frames:
            total += self.frames_in_episode(e)
            e += 1
        return e

    def episode_seed(self, episode: int) -> int:
        return PERCEPTION[self.split].seed(self.seed, episode)


@dataclass
class FrameSet:
    """A loaded split: frames, multi-label targets and per-frame records."""

    frames: np.ndarray
    """(N, n_cams, H, W, 3) uint8."""
    labels: np.ndarray
    """(N, len(CAPTIONS)) bool, columns in CAPTIONS order."""
    records: list[dict[str, Any]]
    config: dict[str, Any]
    states: np.ndarray | None = None
    """(N, 13) float32 simulator state of each frame (NaN rows: mid-motion frames generated
    with ``motion_states=False``). Used only as an auxiliary training target."""

    def __len__(self) -> int:
        return len(self.frames)

    def subset(self, idx: np.ndarray | slice) -> "FrameSet":
        """The frames at ``idx`` (a view where numpy allows it)."""
        ids = np.arange(len(self))[idx]
        return FrameSet(self.frames[ids], self.labels[ids], [self.records[i] for i in ids],
                        dict(self.config), None if self.states is None else self.states[ids])


# ---------------------------------------------------------------------------- generation
def _episode(env: Any, cfg: GenConfig, episode: int) -> list[tuple[np.ndarray, dict, dict, np.ndarray]]:
    """Run one seeded episode; returns (frame (2,H,W,3), predicates, record, state) tuples."""
    seed = cfg.episode_seed(episode)
    rng = np.random.default_rng(seed)
    obs, info = env.reset(seed=seed)
    no_state = np.full_like(obs["state"], np.nan)
    out = [(obs["rgb"], info["predicates"], {"seed": seed, "step": 0, "kind": "reset"},
            obs["state"])]
    for step in range(1, cfg.steps_per_episode + 1):
        obs, _, _, _, info = env.step(exploring_action(env, rng, cfg.random_action_prob))
        kind = info["primitive"]
        if cfg.has_motion(episode):
            motion, motion_preds = info["motion_frames"], info["motion_predicates"]
            if len(motion) > 2:
                i = stable_motion_index(motion_preds, rng)
                state = info["motion_states"][i] if cfg.motion_states else no_state
                out.append((motion[i], motion_preds[i],
                            {"seed": seed, "step": step, "kind": f"mid-{kind}"}, state))
        out.append((obs["rgb"], info["predicates"], {"seed": seed, "step": step, "kind": kind},
                    obs["state"]))
    return out


def exploring_action(env, rng: np.random.Generator, random_prob: float) -> np.ndarray:
    """The next action of a frame-generating episode: uniform on the table rectangle with
    probability ``random_prob``, else a random step of the scripted expert."""
    from sim.expert import random_expert_action

    if rng.random() < random_prob:
        ws = env.unwrapped.config.workspace
        return rng.uniform(ws.low, ws.high).astype(np.float32)
    return random_expert_action(env, rng)


def stable_motion_index(preds: list[dict[str, bool]], rng: np.random.Generator) -> int:
    """A random inner mid-primitive render whose ground truth equals both neighbours'.

    Renders are 24 physics substeps apart. At a predicate transition the cube is within a
    few millimetres of making or breaking a contact (the cameras resolve ~3 mm per pixel at
    128x128), so the label there is ill-posed from pixels; those renders are not used. Falls back to the middle render if every inner one is at a transition.
    """
    inner = range(1, len(preds) - 1)  # the endpoints are ~the frames before and after
    stable = [i for i in inner if preds[i - 1] == preds[i] == preds[i + 1]]
    return int(rng.choice(stable)) if stable else len(preds) // 2


def _make_env(cfg: GenConfig, motion: bool, visual: Any = None) -> Any:
    from sim import EnvConfig, VisualConfig, make_env

    visual = visual or VisualConfig(image_size=cfg.image_size)
    motion = _MOTION_CANDIDATES if motion else 0  # lazy: only the kept instant is rendered
    return make_env(_INSTRUCTION, EnvConfig(horizon=cfg.steps_per_episode + 1,
                                            motion_frames=motion, visual=visual,
                                            lazy_motion=True))


def _worker(args: tuple[GenConfig, list[int]]) -> list[tuple[int, list]]:
    """Generate the given episodes in this process (own physics client)."""
    from sim import VisualConfig

    cfg, episodes = args
    results = []
    envs: dict[bool, Any] = {}  # with / without mid-motion rendering
    per_episode = {"shifted": VisualConfig.shifted, "arm-colors": VisualConfig.arm_colored,
                   "arm-colors-val": VisualConfig.arm_colored}
    for e in episodes:
        motion = cfg.has_motion(e)
        if cfg.split in per_episode and not cfg.plain_arm(e):  # its own look
            look = per_episode[cfg.split](cfg.episode_seed(e))
            visual = replace(look, image_size=cfg.image_size)
            env = _make_env(cfg, motion, visual)
            results.append((e, _episode(env, cfg, e)))
            env.close()
        else:
            if motion not in envs:
                envs[motion] = _make_env(cfg, motion)
            results.append((e, _episode(envs[motion], cfg, e)))
    for env in envs.values():
        env.close()
    return results


def _chunks(n: int, size: int) -> Iterator[list[int]]:
    for start in range(0, n, size):
        yield list(range(start, min(n, start + size)))


def generate(out_dir: str | os.PathLike, cfg: GenConfig, workers: int = 2,
             progress: bool = True) -> Path:
    """Generate split ``cfg`` into ``out_dir`` (frames.npz + manifest.json); returns the dir.

    The result depends only on ``cfg`` (not on ``workers``): episode ``e`` always uses seed
    ``cfg.episode_seed(e)`` and frames are written in episode order.
    """
    from tqdm import tqdm

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    jobs = [(cfg, eps) for eps in _chunks(cfg.n_episodes, 4)]
    by_episode: dict[int, list] = {}
    bar = tqdm(total=cfg.n_frames, desc=f"frames ({cfg.split})", unit="frame",
               disable=not progress, leave=False)
    if workers > 1 and len(jobs) > 1:
        with mp.get_context("spawn").Pool(min(workers, len(jobs))) as pool:
            for chunk in pool.imap_unordered(_worker, jobs):
                for e, items in chunk:
                    by_episode[e] = items
                    bar.update(len(items))
    else:
        for job in jobs:
            for e, items in _worker(job):
                by_episode[e] = items
                bar.update(len(items))
    bar.close()
    items = [it for e in sorted(by_episode) for it in by_episode[e]][: cfg.n_frames]
    frames = np.stack([it[0] for it in items])  # (N, n_cams, H, W, 3)
    labels = np.array([[bool(it[1][caption_to_predicate(c)]) for c in CAPTIONS]
                       for it in items], dtype=bool)  # (N, 9)
    states = np.stack([it[3] for it in items]).astype(np.float32)  # (N, 13)
    records = [dict(rec, captions=captions_from_predicates(p)) for _, p, rec, _ in items]
    np.savez_compressed(out / FRAMES_FILE, frames=frames, labels=labels, states=states)
    manifest = {
        "generator_version": GENERATOR_VERSION,
        "config": asdict(cfg),
        "captions": list(CAPTIONS),
        "n_frames": len(items),
        "frame_shape": list(frames.shape[1:]),
        "positives_per_caption": dict(zip(CAPTIONS, labels.sum(0).tolist())),
        "kinds": {k: sum(r["kind"] == k for r in records) for k in sorted({r["kind"] for r in records})},
        "seconds": round(time.perf_counter() - t0, 2),
        "frames": records,
    }
    (out / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1))
    return out


def is_generated(path: str | os.PathLike, cfg: GenConfig) -> bool:
    """True if ``path`` holds a complete split generated with exactly ``cfg``."""
    p = Path(path)
    try:
        m = json.loads((p / MANIFEST_FILE).read_text())
    except (OSError, ValueError):
        return False
    # fields added after a split was written hold their defaults there
    written = {**asdict(GenConfig()), **(m.get("config") or {})}
    return ((p / FRAMES_FILE).is_file() and m.get("generator_version") == GENERATOR_VERSION
            and written == asdict(cfg) and m.get("captions") == list(CAPTIONS))


def split_dir(root: str | os.PathLike, cfg: GenConfig) -> Path:
    """Where :func:`ensure_split` keeps split ``cfg`` under ``root``."""
    plain = f"-plain{cfg.plain_arm_every}" if cfg.plain_arm_every else ""
    return Path(root) / f"{cfg.split}-{cfg.n_frames}-s{cfg.seed}{plain}-v{GENERATOR_VERSION}"


def ensure_split(root: str | os.PathLike, cfg: GenConfig, workers: int = 2,
                 progress: bool = True) -> Path:
    """The directory of split ``cfg`` under ``root``, generating it if missing."""
    path = split_dir(root, cfg)
    if not is_generated(path, cfg):
        generate(path, cfg, workers=workers, progress=progress)
    return path


def load_split(path: str | os.PathLike) -> FrameSet:
    """Load a generated split."""
    p = Path(path)
    if not (p / MANIFEST_FILE).is_file() or not (p / FRAMES_FILE).is_file():
        raise FileNotFoundError(f"no generated split at {p} (expected {FRAMES_FILE} and {MANIFEST_FILE})")
    manifest = json.loads((p / MANIFEST_FILE).read_text())
    if manifest.get("captions") != list(CAPTIONS):
        raise ValueError(f"split at {p} was captioned with another caption vocabulary")
    with np.load(p / FRAMES_FILE) as data:
        frames, labels = data["frames"], data["labels"]
        states = data["states"] if "states" in data.files else None
    return FrameSet(frames, labels, manifest["frames"], manifest["config"], states)
