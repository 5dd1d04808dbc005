"""Building the video reader (:class:`perception.reader.VideoReader`) on randomised frames.

    frames    = styled frames (experiments.imitation.styled_frames) in the *training* style
                families only, each with its cubes' true image points and a jittered crop
    localiser = perception.localise trained on (frame, points)
    detector  = the project's small CLIP config trained from scratch on (crop, captions)
                (perception.train.train_detector), gamma calibrated on validation crops
    reader    = both, saved with ``reader.json``; cached under the user cache on first use

The held-out style families (``sim.styles.HELD_OUT``) are never generated here: what the
reader scores on them (``langstack reproduce video --foreign --detector reader``) is
generalisation to arms, camera sectors and tables it never saw.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from experiments.imitation.styled_frames import CROPS_FILE, StyledConfig, generate_styled

READER_VERSION = 3
"""Bump when the recipe changes: cached readers are then rebuilt."""
CROP_SIZE = 64
RENDER_SIZE = 256


def _train_config_default() -> Any:
    from perception.loader import CALIBRATION_TARGET
    from perception.train import DetectorTrainConfig

    return DetectorTrainConfig(epochs=25, lr=1e-3, aux_state_weight=0.0,
                               target_precision=CALIBRATION_TARGET)


def _localiser_config_default() -> Any:
    from perception.localise import LocaliserTrainConfig

    return LocaliserTrainConfig(epochs=6, width=48, channel_gain=0.15)


@dataclass
class ReaderBuildConfig:
    """Recipe of a video reader."""

    train_frames: int = 4000
    val_frames: int = 600
    model: str = "langstack-rn-tiny"
    """open_clip config of the crop scorer (trained from scratch)."""
    data_seed: int = 0
    workers: int = 2
    train: Any = field(default_factory=_train_config_default)
    """perception.train.DetectorTrainConfig of the crop scorer."""
    localiser: Any = field(default_factory=_localiser_config_default)
    """perception.localise.LocaliserTrainConfig."""

    def styled(self, split: str) -> StyledConfig:
        """The styled frames of ``split`` this recipe uses."""
        n = self.train_frames if split == "train" else self.val_frames
        return StyledConfig(split=split, n_frames=n, seed=self.data_seed, frame_size=128,
                            render_size=RENDER_SIZE, crop_size=CROP_SIZE)


def styled_split(cfg: StyledConfig, workers: int = 2, progress: bool = True) -> Path:
    """The cached directory of styled split ``cfg`` (generated if missing)."""
    from perception.loader import data_root

    from experiments.imitation.styled_frames import STYLED_VERSION

    path = data_root() / "styled" / (f"{cfg.split}-{cfg.n_frames}-s{cfg.seed}-r{cfg.render_size}"
                                     f"-c{cfg.crop_size}-v{STYLED_VERSION}")
    manifest = path / "manifest.json"
    if not (manifest.is_file() and (path / CROPS_FILE).is_file()
            and json.loads(manifest.read_text()).get("config") == asdict(cfg)):
        generate_styled(path, cfg, workers=workers, progress=progress)
    return path


def load_styled(path: Path) -> tuple[Any, np.ndarray, np.ndarray, Any]:
    """(whole frames FrameSet, cube points (N, 3, 2), cube geometry (N, 3, 4), crops
    FrameSet) of a styled split."""
    from perception.dataset import FrameSet, load_split

    whole = load_split(path)
    with np.load(path / CROPS_FILE) as data:
        crops, points, geometry = data["crops"], data["points"], data["geometry"]
    return whole, points, geometry, FrameSet(crops, whole.labels, whole.records, whole.config,
                                             whole.states)


def build_reader(out_dir: str | Path, cfg: ReaderBuildConfig | None = None,
                 progress: bool = True, say: Callable[[str], None] | None = None) -> Any:
    """Generate training-family styled frames, train the localiser and the crop scorer,
    calibrate gamma and save the reader to ``out_dir``; returns it."""
    import torch

    from perception.factory import create_model
    from perception.localise import geometry_error, measure, point_error, train_localiser
    from perception.captions import CAPTIONS
    from perception.reader import VideoReader, balanced_gamma
    from perception.train import train_detector

    cfg = cfg or ReaderBuildConfig()
    say = say or (lambda m: None)
    t0 = time.perf_counter()
    torch.manual_seed(cfg.train.seed)  # a seeded init: the same recipe gives the same reader
    model, spec = create_model(cfg.model)  # first: a bad name fails before any frame
    say(f"video reader: generating {cfg.train_frames} + {cfg.val_frames} randomised frames")
    train = load_styled(styled_split(cfg.styled("train"), cfg.workers, progress))
    val = load_styled(styled_split(cfg.styled("val"), cfg.workers, progress))
    data_seconds = time.perf_counter() - t0
    say("video reader: training the cube localiser and the crop scorer")
    net, loc_meta = train_localiser(train[0].frames[:, 0], train[1], train[2], cfg.localiser,
                                    progress)
    points, geometry = measure(net, val[0].frames[:, 0])
    loc_meta["val_point_error"] = point_error(points, val[1])
    loc_meta["val_geometry_error"] = geometry_error(geometry, val[2])
    det = train_detector(model, spec, train[3], val[3], cfg.train, progress=progress)
    calibration = balanced_gamma(det.scores(val[3].frames, CAPTIONS), val[3].labels)
    det.gamma = calibration["gamma"]
    det.meta["precision_calibration"] = det.meta.pop("calibration")  # unused by the reader
    det.meta["calibration"] = calibration  # saved with the detector's files
    reader = VideoReader(net, det)
    build = {"reader_version": READER_VERSION, "recipe": _recipe(cfg),
             "data_seconds": round(data_seconds, 1), "localiser": loc_meta,
             "total_seconds": round(time.perf_counter() - t0, 1)}
    reader.save(out_dir, extra={"build": build})
    say(f"video reader: built in {build['total_seconds']:.0f} s; gamma {det.gamma:.3f}; "
        f"validation point error median {loc_meta['val_point_error']['median']:.3f}")
    return reader


def _recipe(cfg: ReaderBuildConfig) -> dict[str, Any]:
    out = asdict(cfg)
    out.pop("workers")  # how fast, not what
    return out


def default_reader_dir() -> Path:
    """Where the default video reader is cached."""
    from perception.loader import cache_root

    return cache_root() / "reader" / f"{ReaderBuildConfig().model}-v{READER_VERSION}"


def ensure_reader(progress: bool = True, say: Callable[[str], None] | None = None) -> Path:
    """The cached default video reader's directory, built first if missing."""
    from perception.reader import READER_FILE

    target = default_reader_dir()
    if not (target / READER_FILE).is_file():
        if say:
            say(f"video reader: building at {target} (first use; cached afterwards)")
        build_reader(target, progress=progress, say=say)
    return target
