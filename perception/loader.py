"""Getting a detector: a given checkpoint, the cached one, or build it on first use.

``load_detector()`` (no path) looks for pretrained CLIP weights first (the weights
``LANGSTACK_CLIP_PRETRAINED`` names -- ``MODEL:TAG``, ``hf-hub:ORG/REPO`` or a checkpoint
path; the CLI's ``--clip`` sets it -- downloaded when missing and the hub answers, an error if
malformed or not obtainable; else a warm open_clip cache for
:data:`perception.factory.DEFAULT_PRETRAINED`) and fine-tunes them on
in-domain frames; without weights it falls back to the **embedded default**: the project's
small CLIP config trained from scratch on simulator frames. Either is built once (with
progress bars) and cached under ``platformdirs.user_cache_dir("langstack")/detector/``;
later runs load it. Which detector is in use is said once per process, on stderr.

The default recipe trains on frames where the Panda is painted in random colours
(``perception.dataset``'s arm-colors split): the detector must judge cubes, stacks and grasps,
not the arm's paint, which makes it more precise on the Panda itself (fewer mid-motion false
"grasping" reads) and lets it read videos of other robots (``langstack imitate``). One pair of
training episodes in four keeps the Panda as rendered, the agent's own view. Each threshold is
calibrated on frames of the view it judges (build v6): ``gamma``, the agent's, on validation
frames of the Panda as rendered; ``video_gamma``, the video reader's, on validation frames of
painted arms (v5 calibrated both on the painted ones). ``recipe="plain"`` trains on frames of
the Panda as rendered only (the v3 default), kept for comparison.
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from perception.factory import EMBEDDED_MODEL, ENV_PRETRAINED

BUILD_VERSION = 6
"""Bump when the default recipe changes: old cached detectors are then rebuilt."""
CALIBRATION_TARGET = 0.985
"""Precision gamma is calibrated for: the Wilson 95% lower bound of the validation precision
must reach it (``DetectorTrainConfig.precision_bound``). Calibrated on the point value, test
precision ran 0.5-0.8 points under it (the smallest threshold that reaches a target on 800
validation frames is chosen partly for its luck there)."""
CACHE_ENV = "LANGSTACK_CACHE_DIR"

_announced: set[str] = set()


def cache_root() -> Path:
    """``$LANGSTACK_CACHE_DIR`` or ``platformdirs.user_cache_dir("langstack")``."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("langstack"))


def data_root() -> Path:
    """Where generated frame splits are cached."""
    return cache_root() / "perception-data"


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in text)[:80]


RECIPES: dict[str, dict[str, str]] = {
    "default": {},
    "plain": {"train_split": "train", "val_split": "val"},
}
"""Named variations of the build recipe: BuildConfig fields they change."""


def default_detector_dir(model: str = EMBEDDED_MODEL, pretrained: str | None = None,
                         recipe: str = "default") -> Path:
    """Cache directory of the default detector built from ``model`` (and ``pretrained``)."""
    name = model if pretrained is None else f"{model}__{Path(pretrained).name}"
    suffix = "" if recipe == "default" else f"-{recipe}"
    return cache_root() / "detector" / f"{_slug(name)}{suffix}-v{BUILD_VERSION}"


def _train_config_default() -> Any:
    from perception.train import DetectorTrainConfig

    return DetectorTrainConfig(target_precision=CALIBRATION_TARGET)


@dataclass
class BuildConfig:
    """Recipe of a detector: data sizes, model source and training settings."""

    model: str = EMBEDDED_MODEL
    pretrained: str | None = None
    """Tag or checkpoint path of pretrained CLIP weights (None: train from scratch)."""
    train_pairs: int = 2000
    val_pairs: int = 800
    train_split: str = "arm-colors"
    """Frames to train on (a ``perception.dataset`` split)."""
    val_split: str = "val"
    """Frames to calibrate gamma on: the view the agent's detector judges (the Panda as
    rendered by the env's cameras)."""
    video_val_split: str | None = "arm-colors-val"
    """Frames to calibrate ``video_gamma`` on, the threshold of the video reader, which judges
    other arms (None: it uses gamma)."""
    plain_arm_every: int = 4
    """In the arm-colors training split, every ``plain_arm_every``-th pair of episodes shows
    the Panda as rendered (the agent's own view; 1 in 4 measured better than 0 on every
    test block, see docs/benchmarks.md)."""
    data_seed: int = 0
    workers: int = 2
    """Processes generating frames."""
    train: Any = field(default_factory=_train_config_default)
    """A perception.train.DetectorTrainConfig."""


def pretrained_train_config() -> Any:
    """Fine-tuning settings for pretrained CLIP weights (small lr, few epochs)."""
    from perception.train import DetectorTrainConfig

    return DetectorTrainConfig(epochs=4, lr=1e-5, warmup_steps=20, batch_size=32,
                               weight_decay=0.1, target_precision=CALIBRATION_TARGET)


def build_detector(out_dir: str | os.PathLike, cfg: BuildConfig | None = None,
                   progress: bool = True, say: Callable[[str], None] | None = None,
                   device: str = "cpu") -> Any:
    """Generate in-domain train/val frames, train, calibrate gamma and save to ``out_dir``
    with its model card (``README.md``, :mod:`perception.card`)."""
    from perception.card import measure_validation, write_detector_card
    from perception.cpustat import read_ticks, steal_fraction
    from perception.dataset import ensure_split, load_split
    from perception.train import train_detector

    cfg = cfg or BuildConfig()
    say = say or _stderr
    t0, ticks0 = time.perf_counter(), read_ticks()
    model, spec = fresh_model(cfg, device=device, say=say)  # first: bad names fail early
    source = "from scratch" if spec.source == "scratch" else f"from {spec.source}"
    say(f"detector: training {spec.name} {source} on {cfg.train_pairs} in-domain pairs -> {out_dir}")
    splits = {role: load_split(ensure_split(data_root(), split_config(cfg, role),
                                            workers=cfg.workers, progress=progress))
              for role in ("train", "val")}
    gen_seconds = time.perf_counter() - t0
    det = train_detector(model, spec, splits["train"], splits["val"], cfg.train,
                         progress=progress, device=device)
    if cfg.video_val_split:  # the video reader's threshold, on frames of the arms it judges
        video_val = load_split(ensure_split(data_root(), split_config(cfg, "video"),
                                            workers=cfg.workers, progress=progress))
        det.meta["video_calibration"] = calibrate_video_gamma(det, video_val, cfg.train)
    validation = measure_validation(det, splits["val"], cfg.val_split)  # counts for the card
    steal = steal_fraction(ticks0, read_ticks())
    build = {"build_version": BUILD_VERSION, "recipe": _recipe(cfg),
             "data_seconds": round(gen_seconds, 1),
             "total_seconds": round(time.perf_counter() - t0, 1),
             "cpu_steal": None if steal is None else round(steal, 3)}
    det.save(out_dir, extra={"build": build, "validation": validation})
    write_detector_card(out_dir)
    stolen = "" if steal is None else f"; CPU steal {100 * steal:.0f}%"
    say(f"detector: built in {build['total_seconds']:.0f} s (frames {gen_seconds:.0f} s, "
        f"training {det.meta['train']['seconds']:.0f} s{stolen}); gamma = {det.gamma:.3f} "
        f"(validation precision {det.meta['calibration']['precision']:.3f}, "
        f"recall {det.meta['calibration']['recall']:.3f})")
    return det


def calibrate_video_gamma(det: Any, frames: Any, train_cfg: Any) -> dict[str, Any]:
    """The video reader's threshold: gamma calibrated on ``frames`` (a FrameSet of other arms)
    for the same precision target, with the split's name."""
    from perception.captions import CAPTIONS
    from perception.detector import calibrate_gamma

    scores = det.scores(frames.frames, CAPTIONS)
    return {**calibrate_gamma(scores, frames.labels, train_cfg.target_precision),
            "split": frames.config.get("split"), "pairs": len(frames)}  # the decoder's centre


def split_config(cfg: BuildConfig, role: str, n_frames: int | None = None) -> Any:
    """The ``perception.dataset.GenConfig`` of the recipe's ``role`` split ("train", "val" or
    "video": the frames ``video_gamma`` is calibrated on, as many as "val")."""
    from perception.dataset import GenConfig

    split = {"train": cfg.train_split, "val": cfg.val_split, "video": cfg.video_val_split}[role]
    if split is None:
        raise ValueError(f"the recipe has no {role} split")
    n = n_frames or (cfg.train_pairs if role == "train" else cfg.val_pairs)
    plain = cfg.plain_arm_every if role == "train" and split.startswith("arm-colors") else 0
    return GenConfig(split=split, n_frames=n, seed=cfg.data_seed, plain_arm_every=plain)


def fresh_model(cfg: BuildConfig, device: str = "cpu",
                say: Callable[[str], None] | None = None) -> tuple[Any, Any]:
    """The recipe's model before training: seeded random init, or the pretrained weights
    (downloaded first where allowed and the hub answers, see :mod:`perception.pretrained`;
    ``say`` hears of a download)."""
    import torch

    from perception.factory import create_model

    torch.manual_seed(cfg.train.seed)
    return create_model(cfg.model, cfg.pretrained, device=device, allow_download=True, say=say)


def _recipe(cfg: BuildConfig) -> dict[str, Any]:
    d = asdict(cfg)
    return d


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def announce(message: str, key: str | None = None, say: Callable[[str], None] | None = None) -> None:
    """Print ``message`` once per process (per ``key``)."""
    key = key or message
    if key not in _announced:
        _announced.add(key)
        (say or _stderr)(message)


def _is_complete(path: Path) -> bool:
    from perception.detector import CONFIG_FILE, WEIGHTS_FILE

    return (path / CONFIG_FILE).is_file() and (path / WEIGHTS_FILE).is_file()


def load_detector(path: str | os.PathLike | None = None, device: str = "cpu",
                  build_if_missing: bool = True, progress: bool = True,
                  say: Callable[[str], None] | None = None, recipe: str = "default") -> Any:
    """The detector at ``path``, or the cached default of ``recipe`` (built on first use).

    Raises FileNotFoundError if ``path`` holds no detector, or if the default is not cached
    and ``build_if_missing`` is False; ValueError for an unknown recipe.
    """
    from perception.detector import Detector

    if path is not None:
        det = Detector.load(path, device=device)
        announce(f"detector: {det.spec.name} ({_describe(det)}) at {path}", say=say)
        return det
    target, what = _ensure_default(recipe, build_if_missing, progress, say, device)
    det = Detector.load(target, device=device)
    announce(f"detector: {what} at {target}", say=say)
    return det


def ensure_default_detector(recipe: str = "default", build_if_missing: bool = True,
                            progress: bool = True, say: Callable[[str], None] | None = None,
                            device: str = "cpu") -> Path:
    """The cache directory of the default detector of ``recipe``, built first if missing.

    Raises FileNotFoundError if it is missing and ``build_if_missing`` is False.
    """
    return _ensure_default(recipe, build_if_missing, progress, say, device)[0]


def _ensure_default(recipe: str, build_if_missing: bool, progress: bool,
                    say: Callable[[str], None] | None, device: str) -> tuple[Path, str]:
    """:func:`ensure_default_detector`, also returning what the detector is (for messages)."""
    target, cfg, what, found = _default_build(recipe)
    if not _is_complete(target):
        if not build_if_missing:
            flag = "" if recipe == "default" else f" --recipe {recipe}"
            raise FileNotFoundError(f"no cached detector at {target}; "
                                    f"run `langstack perception train{flag}`")
        if found is None:
            announce("detector: no pretrained CLIP weights named (--clip MODEL:TAG, "
                     f"${ENV_PRETRAINED}) or cached here; falling back to the embedded default",
                     key="fallback", say=say)
        announce(f"detector: building the {what} at {target} (first use; cached afterwards)",
                 key="building", say=say)
        build_detector(target, cfg, progress=progress, say=say, device=device)
    _ensure_card(target)
    return target, what


def _ensure_card(target: Path) -> None:
    """A cached detector built before model cards gets its card (a read-only cache keeps
    none: the card describes the detector, loading it does not need it)."""
    from perception.card import ensure_detector_card

    try:
        ensure_detector_card(target)
    except OSError:
        pass


def _default_build(recipe: str = "default") -> tuple[Path, BuildConfig, str, Any]:
    """Cache dir, build recipe and description of the default detector of ``recipe``, and
    the pretrained weights found on this machine (None: the embedded default)."""
    from perception.factory import clip_label, find_pretrained

    if recipe not in RECIPES:
        raise ValueError(f"unknown detector recipe {recipe!r}; recipes: {', '.join(RECIPES)}")
    found = find_pretrained()
    if found is not None:
        model, pretrained = found
        target = default_detector_dir(model, pretrained, recipe)
        cfg = BuildConfig(model=model, pretrained=pretrained, train=pretrained_train_config())
        what = f"{clip_label(model, pretrained)} pretrained, fine-tuned on in-domain simulator frames"
    else:
        target = default_detector_dir(recipe=recipe)
        cfg = BuildConfig()
        what = "embedded default (in-domain, trained from simulator frames)"
    if recipe != "default":
        cfg = replace(cfg, **RECIPES[recipe])
        what += f", {recipe} recipe"
    return target, cfg, what, found


def _describe(det: Any) -> str:
    src = det.spec.source
    if src == "scratch":
        return "trained from simulator frames"
    return f"fine-tuned from {src}"
