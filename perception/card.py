"""Model cards: the ``README.md`` every built detector carries.

A card is written from what the detector directory records (``detector.json``: the recipe,
the frame splits, the calibration and the validation counts measured at build) and the hash
of its ``model.safetensors``; it never states a figure that was not measured. Precision and
recall carry Wilson 95% intervals (:func:`perception.stats.wilson`).

:func:`write_detector_card` is called at the end of every build; :func:`ensure_detector_card`
gives a card to a detector in the user cache that was built before cards existed (never to a
directory outside the cache).
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import shlex
from pathlib import Path
from typing import Any

import numpy as np

from perception.captions import CAPTIONS
from perception.stats import format_rate

CARD_FILE = "README.md"
EXAMPLE_TASK = "stack the red object on top of the blue object"
_TRAIN_KEYS = ("epochs", "batch_size", "lr", "weight_decay", "warmup_steps", "seed", "threads",
               "augment", "aux_state_weight", "view_loss_weight", "ema_decay",
               "freeze_token_embedding")
"""DetectorTrainConfig settings the card lists (detector.json has every one)."""


def weights_sha256(path: str | os.PathLike) -> str:
    """SHA-256 (hex) of a weights file (cached per path, size and modification time)."""
    p = Path(path).resolve()
    st = p.stat()
    return _sha256(str(p), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=32)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def measure_validation(det: Any, frames: Any, split: str,
                       when: str = "at build") -> dict[str, Any]:
    """Counts of ``det``'s decisions at its gamma on a FrameSet (overall and per caption);
    ``when`` says when they were measured (the card quotes it)."""
    from perception.evaluate import evaluate_scores

    scores = det.scores(frames.frames, CAPTIONS)  # (N, 9), the detector's camera rule
    ev = evaluate_scores(scores, np.asarray(frames.labels), det.gamma)
    return {"split": split, "frames": len(frames), "gamma": det.gamma, "when": when, **ev}


def write_detector_card(directory: str | os.PathLike,
                        validation: dict[str, Any] | None = None) -> Path:
    """Write ``README.md`` into a detector directory from its saved files; returns its path.

    ``validation`` (a :func:`measure_validation` result) stands in for counts that
    ``detector.json`` does not record. Raises FileNotFoundError if there is no detector.
    """
    from perception.detector import CONFIG_FILE, WEIGHTS_FILE

    d = Path(directory)
    if not (d / CONFIG_FILE).is_file() or not (d / WEIGHTS_FILE).is_file():
        raise FileNotFoundError(f"no detector at {d} (expected {CONFIG_FILE} and {WEIGHTS_FILE})")
    config = read_detector_config(d)
    text = detector_card(config, str(d), weights_sha256(d / WEIGHTS_FILE), validation)
    return atomic_write_text(d / CARD_FILE, text)


def read_detector_config(directory: Path) -> dict[str, Any]:
    """``detector.json`` as a dict (ValueError if it is not a JSON object)."""
    from perception.detector import CONFIG_FILE

    path = directory / CONFIG_FILE
    try:
        config = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"corrupt {path}: {exc}") from None
    if not isinstance(config, dict) or not isinstance(config.get("model_name"), str):
        raise ValueError(f"{path} is not a detector config")
    return config


def ensure_detector_card(directory: str | os.PathLike) -> Path | None:
    """Give a cached detector built before model cards its card; None if it has one already
    or is not inside the user cache (a user's own directory is never written to).

    Validation counts it does not record are measured on its validation split when that
    split is in the cache (a few seconds); otherwise the card says they are missing.
    """
    from perception.loader import cache_root

    d = Path(directory)
    if (d / CARD_FILE).exists() or not d.resolve().is_relative_to(cache_root().resolve()):
        return None
    config = read_detector_config(d)
    validation = None if config.get("validation") else _measure_cached_split(d, config)
    return write_detector_card(d, validation)


def _measure_cached_split(directory: Path, config: dict[str, Any]) -> dict[str, Any] | None:
    """Validation counts on the recipe's cached validation split, or None if it is not cached."""
    from perception.dataset import is_generated, load_split, split_dir
    from perception.detector import Detector
    from perception.loader import data_root

    gen = _split_config(config, "val")
    if gen is None or not is_generated(split_dir(data_root(), gen), gen):
        return None
    det = Detector.load(directory)
    return measure_validation(det, load_split(split_dir(data_root(), gen)), gen.split,
                              when="when this card was written (built before model cards)")


def _split_config(config: dict[str, Any], role: str) -> Any:
    """The GenConfig of the recipe's ``role`` split, or None if no recipe is recorded."""
    from dataclasses import fields

    from perception.loader import BuildConfig, split_config

    recipe = (config.get("build") or {}).get("recipe")
    if not isinstance(recipe, dict):
        return None
    known = {f.name for f in fields(BuildConfig)} - {"train"}
    return split_config(BuildConfig(**{k: v for k, v in recipe.items() if k in known}), role)


# ---------------------------------------------------------------------------- the card
def detector_card(config: dict[str, Any], path: str, weights_sha: str | None = None,
                  validation: dict[str, Any] | None = None) -> str:
    """The markdown card of a detector from its ``detector.json`` (``config``)."""
    validation = validation or config.get("validation")
    sections = [_header(config), _identity(config, path, weights_sha), _data(config),
                _recipe(config), _validation(config, validation, path), _usage(path)]
    return "\n".join(line for section in sections for line in section).rstrip() + "\n"


def _header(config: dict[str, Any]) -> list[str]:
    return [f"# Model card: langstack sub-goal detector `{config['model_name']}`", "",
            "Reads camera frames as language: the cosine of the CLIP image and caption "
            f"embeddings, averaged over the camera views (rule: {config.get('camera_rule')}), "
            f"detects a sub-goal caption when it is >= gamma = {config['gamma']:.4f}. "
            f"It scores the {len(config.get('captions', CAPTIONS))} captions of "
            "`perception.captions` (\"the robot is grasping the X object\", \"the X object is "
            "on top of the Y object\").", ""]


def _identity(config: dict[str, Any], path: str, weights_sha: str | None) -> list[str]:
    source = config.get("weights_source")
    origin = "trained from scratch" if source == "scratch" else f"fine-tuned from `{source}`"
    build = config.get("build") or {}
    lines = ["## Identity", "", f"- Directory: `{path}`",
             f"- Weights: `model.safetensors`, sha256 `{weights_sha or 'not computed'}`",
             f"- Model: open_clip `{config['model_name']}` ({origin}), input "
             f"{config.get('image_size')} px; its open_clip config travels in `detector.json`"]
    if build:
        steal = build.get("cpu_steal")
        lines.append(f"- Built by langstack detector build v{build.get('build_version')} in "
                     f"{build.get('total_seconds')} s (frames {build.get('data_seconds')} s"
                     + ("" if steal is None else f", CPU steal {100 * steal:.1f}%") + ")")
    return lines + [""]


def _data(config: dict[str, Any]) -> list[str]:
    lines = ["## Data", ""]
    if config.get("pair_definition"):
        lines.append(f"A pair is {config['pair_definition']}: the captions are read off the "
                     "simulator's ground-truth predicates (`perception.dataset`).")
        lines.append("")
    roles = [("train", "Training"), ("val", "Validation (gamma calibration)")]
    if config.get("video_calibration"):
        roles.append(("video", "Validation of the video reader (video_gamma calibration)"))
    for role, what in roles:
        gen = _split_config(config, role)
        pairs = config.get(f"{role}_pairs")
        if gen is None:
            lines.append(f"- {what}: {pairs if pairs is not None else 'unrecorded'} pairs "
                         "(no build recipe recorded: split and seeds unknown)")
            continue
        n_ep = gen.n_episodes
        plain = (f"; the Panda kept as rendered in the first 2 of every "
                 f"{2 * gen.plain_arm_every} episodes, painted in random colours otherwise"
                 if gen.plain_arm_every else "")
        lines.append(f"- {what}: {gen.n_frames} pairs of split `{gen.split}` from {n_ep} episodes, "
                     f"scene seeds {gen.episode_seed(0)}..{gen.episode_seed(n_ep - 1)} "
                     f"(block {gen.seed} of `sim.seeds.PERCEPTION[{gen.split!r}]`{plain})")
    return lines + [""]


def _recipe(config: dict[str, Any]) -> list[str]:
    train = config.get("train") or {}
    settings = train.get("config") or {}
    lines = ["## Recipe", ""]
    if settings:
        shown = ", ".join(f"{k}={settings[k]}" for k in _TRAIN_KEYS if k in settings)
        lines.append(f"- Training (`perception.train.DetectorTrainConfig`): {shown}; "
                     f"{train.get('steps')} steps in {train.get('seconds')} s, final loss "
                     f"(EMA) {_num(train.get('final_loss_ema'))}. Loss: sigmoid image-caption "
                     "BCE (mean over views + per view) and an auxiliary state regression.")
    else:
        lines.append("- Training settings: not recorded")
    cal = config.get("calibration")
    if cal:
        bound = ("the 95% lower confidence bound of its validation precision"
                 if cal.get("rule") == "Wilson 95% lower bound" else "its validation precision")
        lines.append(f"- Calibration: gamma = {cal['gamma']:.4f}, the smallest threshold for which "
                     f"{bound} is >= {cal['target_precision']} (precision first: a "
                     "false detection is a wrong reward, a miss only costs episodes)")
    video = config.get("video_calibration")
    if video:
        lines.append(f"- Video reader (`langstack imitate`): video_gamma = {video['gamma']:.4f}, "
                     f"the smallest threshold whose precision on `{video.get('split')}` frames "
                     f"(other arms) is >= {video['target_precision']}, the decoder's centre: "
                     f"precision {video['precision']:.3f}, recall {video['recall']:.3f}")
    if "logit_scale" in config:
        lines.append(f"- Learned logit scale {config['logit_scale']:.3f}, bias "
                     f"{config['logit_bias']:.3f} (training only; detection uses gamma)")
    return lines + [""]


def _validation(config: dict[str, Any], validation: dict[str, Any] | None,
                path: str) -> list[str]:
    held_out = (f"Held-out figures (test and visually shifted splits): "
                f"`langstack perception eval --detector {shlex.quote(path)}`.")
    lines = ["## Measured precision and recall", ""]
    if not validation:
        return lines + [_unmeasured(config), "", held_out, ""]
    ov = validation["overall"]
    lines += [f"Measured {validation.get('when', 'at build')} on the `{validation['split']}` "
              f"split: {validation['frames']} frames x {len(validation['per_caption'])} "
              f"captions, every (frame, caption) decision at gamma = {validation['gamma']:.4f}. "
              "Gamma was calibrated on this split, so these are in-sample figures. " + held_out,
              "",
              f"- Precision: {format_rate(ov['tp'], ov['tp'] + ov['fp'])} of the detections",
              f"- Recall: {format_rate(ov['tp'], ov['tp'] + ov['fn'])} of the true captions", "",
              "| caption | precision | recall |", "|---|---|---|"]
    for caption, c in validation["per_caption"].items():
        lines.append(f"| {caption} | {format_rate(c['tp'], c['tp'] + c['fp'])} | "
                     f"{format_rate(c['tp'], c['tp'] + c['fn'])} |")
    return lines + [""]


def _unmeasured(config: dict[str, Any]) -> str:
    """What a card without validation counts can say."""
    cal = config.get("calibration")
    if not cal:
        return "No validation figures were recorded with this detector."
    return (f"At calibration: precision {cal['precision']:.4f}, recall {cal['recall']:.4f} on "
            "the validation split. The counts behind them were not recorded (built before model "
            "cards, validation split not cached), so no interval can be given.")


def _usage(path: str) -> list[str]:
    quoted = shlex.quote(path)
    return ["## How to load", "", "```bash",
            f"langstack perception eval --detector {quoted}",
            f"langstack train --task {shlex.quote(EXAMPLE_TASK)} --detector-path {quoted}",
            "```", "", "```python",
            "import sim",
            "from perception import load_detector",
            "",
            f"det = load_detector({path!r})  # safetensors only, nothing unpickled",
            f"env = sim.make_env({EXAMPLE_TASK!r})",
            "obs, info = env.reset(seed=0)  # a simulated scene",
            "frames = obs[\"rgb\"][None]  # (N frames, cameras, H, W, RGB) uint8",
            "print(det.gamma, det.detect(frames))  # per frame: the captions scored >= gamma",
            "env.close()",
            "```", ""]


def _num(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, (int, float)) else "unrecorded"


def atomic_write_text(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file and a rename (a reader never sees a
    torn card); returns ``path``."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # left only if the write or the rename failed
    return path
