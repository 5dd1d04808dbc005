"""The calibrated sub-goal detector: cosine(image, caption) against a threshold gamma.

``score = cos(image embedding, caption embedding)``, the paper's dot product of normalised
CLIP embeddings. A caption is detected when the score is >= ``gamma``; gamma is calibrated on
a validation split for precision first (see :func:`calibrate_gamma`).

**Camera rule.** A frame from the simulator has two views (front, side). Each view is scored
on its own and the frame's score is the *mean of the two cosines*. Both views were trained
with the frame's captions, so each is a calibrated estimate on the same scale; averaging
cancels view-specific errors (an arm hiding a cube in one view lowers the score instead of
vetoing it, one view's spurious match must be confirmed by the other) and the threshold
keeps the paper's meaning. A single-view input ``(N, H, W, 3)`` is scored with that view.

Checkpoints are a directory with ``model.safetensors`` (the open_clip state dict plus the
cached caption embeddings) and ``detector.json`` (model name, gamma, camera rule, logit
scale/bias, calibration and training statistics).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from perception.captions import CAPTIONS, check_caption

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "detector.json"
CAPTION_EMB_KEY = "langstack.caption_embeddings"
CAMERA_RULE = "mean"
FORMAT_VERSION = 1


def check_frames(frames: Any) -> np.ndarray:
    """Validate frames: uint8 RGB, ``(N, n_cams, H, W, 3)`` or ``(N, H, W, 3)``.

    Returns a ``(N, n_cams, H, W, 3)`` view; raises ValueError with what was wrong.
    """
    if not isinstance(frames, np.ndarray):
        raise ValueError(f"frames must be a numpy uint8 array, got {type(frames).__name__}")
    if frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 RGB in [0, 255], got dtype {frames.dtype}")
    if frames.ndim == 4:
        frames = frames[:, None]
    if frames.ndim != 5 or frames.shape[-1] != 3:
        raise ValueError("frames must have shape (N, n_cams, H, W, 3) or (N, H, W, 3) "
                         f"(RGB, channels last), got {frames.shape}")
    if min(frames.shape[2:4]) < 16 or frames.shape[1] < 1:
        raise ValueError(f"frames are too small (need H, W >= 16 and >= 1 camera), got {frames.shape}")
    return frames


def check_captions(captions: Sequence[str]) -> list[str]:
    """Validate captions against the vocabulary (ValueError naming the unknown one)."""
    if isinstance(captions, str):
        raise ValueError("captions must be a sequence of strings, got a single string")
    return [check_caption(c) for c in captions]


def preprocess(frames: np.ndarray, image_size: int, mean: Sequence[float],
               std: Sequence[float]) -> Any:
    """uint8 ``(B, H, W, 3)`` -> normalised float tensor ``(B, 3, S, S)`` (training uses this too)."""
    import torch

    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float().div_(255)
    x = resize(x, image_size)
    m = torch.tensor(mean, dtype=x.dtype).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=x.dtype).view(1, 3, 1, 1)
    return ((x - m) / s).contiguous(memory_format=torch.channels_last)


def resize(x: Any, image_size: int) -> Any:
    """Resize a float batch ``(B, 3, H, W)`` to ``(B, 3, S, S)`` (antialiased bilinear)."""
    import torch.nn.functional as F

    if x.shape[-2:] == (image_size, image_size):
        return x
    return F.interpolate(x, size=(image_size, image_size), mode="bilinear",
                         align_corners=False, antialias=True)


def calibrate_gamma(scores: np.ndarray, labels: np.ndarray, target_precision: float = 0.99,
                    bound: bool = False) -> dict[str, float]:
    """The smallest threshold whose precision on (scores, labels) is >= ``target_precision``
    (``bound``: whose precision's Wilson 95% lower bound is: the smallest threshold that just
    reaches the target on validation frames is chosen for its luck there, and fresh frames
    then fall short of the target).

    ``scores`` and ``labels`` are ``(N, K)`` (all captions pooled: one gamma for every
    caption). If no threshold reaches the target, the threshold of highest precision (or
    bound) is returned (ties: the larger). Returns gamma and the precision/recall it gives.
    """
    s, y = scores.ravel().astype(np.float64), labels.ravel().astype(bool)
    order = np.argsort(-s, kind="stable")
    s, y = s[order], y[order]
    tp = np.cumsum(y)
    n_pred = np.arange(1, len(s) + 1)
    # thresholds at distinct score values: predicting the top-k where s[k-1] > s[k]
    last = np.r_[s[1:] != s[:-1], True]
    prec = tp / n_pred
    judged = _wilson_lower(tp, n_pred) if bound else prec
    ok = np.flatnonzero(last & (judged >= target_precision))
    if len(ok):
        k = ok[-1]
    else:
        cand = np.flatnonzero(last)
        k = cand[np.argmax(judged[cand])]  # first maximum = the larger threshold
    n_pos = max(int(y.sum()), 1)
    return {"gamma": float(s[k]), "precision": float(prec[k]), "recall": float(tp[k] / n_pos),
            "target_precision": target_precision,
            "rule": "Wilson 95% lower bound" if bound else "point"}


def _wilson_lower(successes: np.ndarray, trials: np.ndarray) -> np.ndarray:
    """Wilson 95% lower bounds, elementwise."""
    from perception.stats import wilson

    return np.array([wilson(int(k), int(n))[0] for k, n in zip(successes, trials)])


def embedding_dim(model: Any, image_size: int) -> int:
    """Output dimension of ``model.encode_image``."""
    dim = getattr(model.visual, "output_dim", None)
    if isinstance(dim, int):
        return dim
    import torch

    with torch.inference_mode():
        return int(model.encode_image(torch.zeros(1, 3, image_size, image_size)).shape[-1])


class Detector:
    """CLIP sub-goal detector over the caption vocabulary (batched, CPU-friendly)."""

    def __init__(self, model: Any, spec: Any, gamma: float, *, device: str = "cpu",
                 meta: dict[str, Any] | None = None, batch_size: int = 256) -> None:
        import torch

        self.model = model.eval().to(device, memory_format=torch.channels_last)
        self.spec = spec
        self.gamma = float(gamma)
        self.device = device
        self.meta = dict(meta or {})
        self.batch_size = batch_size
        self.camera_rule = CAMERA_RULE
        self._text_cache: dict[str, np.ndarray] = {}
        self.embed_dim = embedding_dim(self.model, spec.image_size)

    @property
    def video_gamma(self) -> float:
        """The threshold for frames of other arms and cameras (the video reader's): calibrated
        on painted-arm validation frames when the build did so, else ``gamma``."""
        cal = self.meta.get("video_calibration")
        return float(cal["gamma"]) if isinstance(cal, dict) and "gamma" in cal else self.gamma

    # ------------------------------------------------------------------ embeddings
    def image_embeddings(self, frames: np.ndarray) -> np.ndarray:
        """``(N, n_cams, E)`` float32 L2-normalised embeddings of every camera view."""
        import torch

        frames = check_frames(frames)
        n, c = frames.shape[:2]
        flat = frames.reshape(n * c, *frames.shape[2:])  # (N*C, H, W, 3)
        out = np.empty((n * c, self.embed_dim), dtype=np.float32)
        with torch.inference_mode():
            for i in range(0, n * c, self.batch_size):
                x = preprocess(flat[i:i + self.batch_size], self.spec.image_size,
                               self.spec.mean, self.spec.std).to(self.device)
                f = self.model.encode_image(x, normalize=True)  # (b, E)
                out[i:i + len(f)] = f.float().cpu().numpy()
        return out.reshape(n, c, -1)

    def text_embeddings(self, captions: Sequence[str]) -> np.ndarray:
        """``(len(captions), E)`` float32 L2-normalised caption embeddings (cached)."""
        import torch

        captions = check_captions(captions)
        missing = [c for c in dict.fromkeys(captions) if c not in self._text_cache]
        if missing:
            from perception.factory import tokenizer

            tok = tokenizer(self.spec.name)
            with torch.inference_mode():
                t = self.model.encode_text(tok(missing).to(self.device), normalize=True)
            for cap, e in zip(missing, t.float().cpu().numpy()):
                self._text_cache[cap] = e
        if not captions:
            return np.zeros((0, self.embed_dim), np.float32)
        return np.stack([self._text_cache[c] for c in captions])

    # ------------------------------------------------------------------ scores
    def scores_from_embeddings(self, img_embs: np.ndarray, captions: Sequence[str]) -> np.ndarray:
        """Frame scores ``(N, len(captions))`` from stored ``(N, n_cams, E)`` or ``(N, E)`` embeddings."""
        e = np.asarray(img_embs, dtype=np.float32)
        if e.ndim == 2:
            e = e[:, None]
        if e.ndim != 3 or e.shape[-1] != self.embed_dim:
            raise ValueError(f"image embeddings must be (N, n_cams, {self.embed_dim}) or "
                             f"(N, {self.embed_dim}), got {np.shape(img_embs)}")
        t = self.text_embeddings(captions)  # (K, E)
        per_view = np.einsum("nce,ke->nck", e, t)  # (N, C, K) cosines
        return per_view.mean(axis=1)  # camera rule: mean over views

    def scores(self, frames: np.ndarray, captions: Sequence[str]) -> np.ndarray:
        """Frame scores ``(N, len(captions))``: mean over cameras of cos(image, caption)."""
        check_captions(captions)
        return self.scores_from_embeddings(self.image_embeddings(frames), captions)

    def detect(self, frames: np.ndarray) -> list[set[str]]:
        """For each frame, the vocabulary captions whose score is >= gamma."""
        s = self.scores(frames, CAPTIONS)  # (N, 9)
        return [{c for c, hit in zip(CAPTIONS, row) if hit} for row in s >= self.gamma]

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike, extra: dict[str, Any] | None = None) -> Path:
        """Write ``model.safetensors`` + ``detector.json`` into directory ``path``."""
        import torch
        from safetensors.torch import save_file

        out = Path(path)
        out.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().contiguous() for k, v in self.model.state_dict().items()}
        state[CAPTION_EMB_KEY] = torch.from_numpy(self.text_embeddings(CAPTIONS))
        save_file(state, str(out / WEIGHTS_FILE))
        import open_clip

        config = {
            "format_version": FORMAT_VERSION,
            "model_name": self.spec.name,
            "weights_source": self.spec.source,
            "image_size": self.spec.image_size,
            "mean": list(self.spec.mean),
            "std": list(self.spec.std),
            "gamma": self.gamma,
            "camera_rule": self.camera_rule,
            "captions": list(CAPTIONS),
            "model_config": open_clip.get_model_config(self.spec.name),
            **self.meta,
            **(extra or {}),
        }
        (out / CONFIG_FILE).write_text(json.dumps(config, indent=1))
        self.meta.update(extra or {})
        return out

    @classmethod
    def load(cls, path: str | os.PathLike, device: str = "cpu") -> "Detector":
        """Load a detector directory written by :meth:`save` (safetensors only, no pickle)."""
        det = cls.from_blob(DetectorBlob.read(path), device=device)
        det.meta["path"] = str(Path(path))
        return det

    @classmethod
    def from_blob(cls, blob: "DetectorBlob", device: str = "cpu") -> "Detector":
        """A detector from a checkpoint's two files held in memory (e.g. sent to another
        machine through Ray's object store): safetensors weights, never pickle.

        Raises ValueError for a malformed config or weights, or a format this version cannot
        read. ``meta["origin"]`` records where the bytes were read (``blob.source``).
        """
        import open_clip
        from safetensors import SafetensorError
        from safetensors.torch import load as load_safetensors

        from perception.factory import ModelSpec, quiet_open_clip, register_configs

        cfg = blob.config_dict()
        if cfg.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"detector from {blob.source} has format "
                             f"{cfg.get('format_version')}, expected {FORMAT_VERSION}")
        register_configs()
        if cfg["model_name"] not in open_clip.list_models():
            if not cfg.get("model_config"):
                raise ValueError(f"detector from {blob.source} uses unknown model "
                                 f"{cfg['model_name']!r}")
            register_config(cfg["model_name"], cfg["model_config"])
        try:
            state = load_safetensors(blob.weights)
        except SafetensorError as exc:
            raise ValueError(f"detector from {blob.source}: corrupt {WEIGHTS_FILE}: {exc}") from None
        cap_emb = state.pop(CAPTION_EMB_KEY, None)
        with quiet_open_clip():
            model = open_clip.create_model(cfg["model_name"], pretrained=None, device="cpu",
                                           force_image_size=cfg["image_size"])
        model.load_state_dict(state, strict=True)
        spec = ModelSpec(cfg["model_name"], cfg["weights_source"], int(cfg["image_size"]),
                         tuple(cfg["mean"]), tuple(cfg["std"]))  # type: ignore[arg-type]
        known = ("format_version", "model_name", "weights_source", "image_size", "mean", "std",
                 "gamma", "camera_rule", "captions", "model_config")
        det = cls(model, spec, cfg["gamma"], device=device,
                  meta={k: v for k, v in cfg.items() if k not in known}
                  | {"origin": blob.source, "weights_sha256": blob.sha256()})
        if cap_emb is not None and cfg.get("captions") == list(CAPTIONS):
            det._text_cache = {c: e for c, e in zip(CAPTIONS, cap_emb.float().numpy())}
        return det


@dataclass(frozen=True)
class DetectorBlob:
    """A detector checkpoint as bytes: its ``detector.json`` and ``model.safetensors``.

    What a Ray actor on another machine receives instead of a path (picklable, no code).
    """

    config: bytes
    weights: bytes
    source: str = "memory"
    """Where the bytes came from (messages and ``Detector.meta["origin"]``)."""

    @classmethod
    def read(cls, path: str | os.PathLike) -> "DetectorBlob":
        """The two files of the detector directory ``path`` (FileNotFoundError if missing)."""
        p = Path(path)
        if not (p / CONFIG_FILE).is_file() or not (p / WEIGHTS_FILE).is_file():
            raise FileNotFoundError(f"no detector at {p} (expected {CONFIG_FILE} and {WEIGHTS_FILE})")
        return cls((p / CONFIG_FILE).read_bytes(), (p / WEIGHTS_FILE).read_bytes(), str(p))

    def sha256(self) -> str:
        """SHA-256 (hex) of the weights: the detector's identity (the same digest as
        ``perception.card.weights_sha256`` of its ``model.safetensors``)."""
        import hashlib

        return hashlib.sha256(self.weights).hexdigest()

    def config_dict(self) -> dict[str, Any]:
        """The parsed ``detector.json`` (ValueError unless a JSON object naming a model)."""
        try:
            cfg = json.loads(self.config)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"detector from {self.source}: corrupt {CONFIG_FILE}: {exc}") from None
        if not isinstance(cfg, dict) or not isinstance(cfg.get("model_name"), str):
            raise ValueError(f"detector from {self.source}: {CONFIG_FILE} is not a detector config")
        return cfg


def register_config(name: str, model_config: dict[str, Any]) -> None:
    """Make an open_clip config carried by a checkpoint known to open_clip under ``name``.

    open_clip registers a config file under its file stem, so the file is
    ``<user cache>/clip-configs/<name>.json``: a name that is not a plain file stem is refused.
    """
    import re

    import open_clip

    from perception.loader import cache_root

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise ValueError(f"detector checkpoint names an invalid model config {name!r}")
    folder = cache_root() / "clip-configs"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}.json"
    # atomic: Ray actors building detectors side by side must never read a half-written file
    tmp = folder / f".{name}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(model_config))
    os.replace(tmp, target)
    open_clip.add_model_config(target)
