"""Model factory: an open_clip model by name, with pretrained weights when they are present.

Two sources, one code path (``open_clip.create_model_and_transforms``):

* **Pretrained CLIP** (e.g. ``ViT-B-32``): ``pretrained`` is a checkpoint file or an open_clip
  tag (``laion2b_s34b_b79k``, ``openai``, ...), or the model is ``hf-hub:ORG/REPO``. The
  weights are found or fetched by :mod:`perception.pretrained` (local caches first; a
  download only where allowed and the hub answers, so an offline machine fails fast with
  :class:`PretrainedWeightsMissing` instead of retrying the hub for a minute). The detector
  fine-tunes these weights.
* **Embedded default** (:data:`EMBEDDED_MODEL`): a small CLIP of the project's own config
  (``perception/model_configs/*.json``, registered with ``open_clip.add_model_config``),
  trained from scratch on simulator frames.
"""
from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from perception.hub import fetch_advice
from perception.pretrained import (
    CLIP_FORM, HF_HUB_PREFIX, PretrainedWeightsMissing, check_obtainable, check_tag, clip_label,
    parse_clip, resolve_pretrained,
)

EMBEDDED_MODEL = "langstack-rn-tiny"
"""open_clip config name of the embedded default (perception/model_configs/)."""
CONFIG_DIR = Path(__file__).resolve().parent / "model_configs"
DEFAULT_PRETRAINED: tuple[tuple[str, str], ...] = (
    ("ViT-B-32", "laion2b_s34b_b79k"),
    ("ViT-B-32", "openai"),
    ("ViT-B-16", "laion2b_s34b_b88k"),
)
"""(model, tag) pairs looked up in the local caches when no weights are named explicitly."""
ENV_MODEL = "LANGSTACK_CLIP_MODEL"
ENV_PRETRAINED = "LANGSTACK_CLIP_PRETRAINED"
ENV_PATH_MODEL = "ViT-B-32"
"""The model of a checkpoint path in ``LANGSTACK_CLIP_PRETRAINED`` without ``LANGSTACK_CLIP_MODEL``."""
ENV_FORM = f"{CLIP_FORM} or the path of a checkpoint file"

_registered = False


@dataclass(frozen=True)
class ModelSpec:
    """What a model is and how its images must be prepared."""

    name: str
    """open_clip model (config) name."""
    source: str
    """Where the weights came from: a file path, ``tag@path`` or ``scratch``."""
    image_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


def register_configs() -> None:
    """Register the project's model configs with open_clip (idempotent)."""
    global _registered
    if not _registered:
        import open_clip

        open_clip.add_model_config(CONFIG_DIR)
        _registered = True


@contextmanager
def quiet_open_clip() -> Iterator[None]:
    """Silence logging warnings inside the block: open_clip logs one for every randomly
    initialised model, which is intended here."""
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(previous)


def create_model(name: str = EMBEDDED_MODEL, pretrained: str | None = None, *,
                 device: str = "cpu", cache_dir: str | None = None,
                 allow_download: bool = False,
                 say: Callable[[str], None] | None = None) -> tuple[Any, ModelSpec]:
    """An open_clip model and its :class:`ModelSpec`.

    ``pretrained=None`` gives a randomly initialised model (the embedded default is trained
    from scratch) unless ``name`` is ``hf-hub:ORG/REPO``; otherwise the weights are loaded
    from the file or cached tag, or downloaded with ``allow_download`` (raises
    :class:`PretrainedWeightsMissing` if there are none).
    """
    import open_clip

    register_configs()
    hub = name.startswith(HF_HUB_PREFIX)
    if not hub and name not in open_clip.list_models():
        raise ValueError(f"unknown open_clip model {name!r}")
    kwargs: dict[str, Any] = {}
    source = "scratch"
    if pretrained is not None or hub:
        path, tag_cfg = resolve_pretrained(name, pretrained, cache_dir, allow_download, say)
        source = path if pretrained is not None and os.path.isfile(pretrained) else \
            f"{pretrained or name}@{path}"
        if tag_cfg.get("mean") is not None:
            kwargs["image_mean"] = tuple(tag_cfg["mean"])
        if tag_cfg.get("std") is not None:
            kwargs["image_std"] = tuple(tag_cfg["std"])
        if tag_cfg.get("quick_gelu"):
            kwargs["force_quick_gelu"] = True
        name, pretrained = tag_cfg.get("name", name), path
    with quiet_open_clip():
        model, _, _ = open_clip.create_model_and_transforms(
            name, pretrained=pretrained, device=device, cache_dir=cache_dir, **kwargs)
    pp = model.visual.preprocess_cfg
    size = pp["size"]
    size = int(size[0] if isinstance(size, (tuple, list)) else size)
    spec = ModelSpec(name=name, source=source, image_size=size,
                     mean=tuple(float(v) for v in pp["mean"]),  # type: ignore[arg-type]
                     std=tuple(float(v) for v in pp["std"]))  # type: ignore[arg-type]
    return model, spec


def find_pretrained(candidates: tuple[tuple[str, str], ...] | None = None,
                    cache_dir: str | None = None) -> tuple[str, str | None] | None:
    """The first (model, tag_or_path) whose weights are on this machine, or None.

    Weights named by the environment (:func:`pretrained_from_env`) are the only candidate
    when set: if they are malformed (ValueError), or neither cached nor downloadable
    (:class:`PretrainedWeightsMissing`), that is an error naming the variable, never a silent
    fallback. They are downloaded when the detector is built, not here.
    """
    named = pretrained_from_env()
    if named is not None:
        try:
            check_obtainable(*named, cache_dir)
        except PretrainedWeightsMissing as exc:
            raise PretrainedWeightsMissing(f"{ENV_PRETRAINED}: {exc}", exc.why) from None
        return named
    return cached_default(candidates, cache_dir)


def cached_default(candidates: tuple[tuple[str, str], ...] | None = None,
                   cache_dir: str | None = None) -> tuple[str, str] | None:
    """The first of ``candidates`` (default :data:`DEFAULT_PRETRAINED`) whose weights are in
    the local caches (no network, the environment not read), or None."""
    candidates = DEFAULT_PRETRAINED if candidates is None else candidates
    for name, pre in candidates:
        try:
            resolve_pretrained(name, pre, cache_dir)
        except PretrainedWeightsMissing:
            continue
        return name, pre
    return None


def fetch_or_fallback(clip: str, say: Callable[[str], None],
                      cache_dir: str | None = None) -> tuple[str, str | None] | None:
    """The (model, tag) ``clip`` names (``--clip``), downloaded first if need be; None when
    they cannot be had here (offline, hub unreachable, download failed): ``say`` then hears
    one line with why, the detector used instead (:func:`cached_default` or the embedded
    default) and how to get the real one. Within seconds: the hub is probed first.

    A malformed ``clip`` is a ValueError (checked before any disk or network access).
    """
    model, pretrained = parse_clip(clip)
    try:
        resolve_pretrained(model, pretrained, cache_dir, allow_download=True, say=say)
    except PretrainedWeightsMissing as exc:
        say(f"detector: pretrained CLIP {clip} is not available ({exc}); using "
            f"{fallback_detector(cache_dir)} instead. To use {clip}, {fetch_advice()}"
            f"{_prefetch_hint(model, pretrained)}")
        return None
    return model, pretrained


def fallback_detector(cache_dir: str | None = None) -> str:
    """What the default detector is built from when no weights are named (for messages)."""
    found = cached_default(cache_dir=cache_dir)
    if found is not None:
        return f"{clip_label(*found)} (in the local cache), fine-tuned on in-domain frames"
    return f"the embedded default ({EMBEDDED_MODEL}, trained from simulator frames)"


def _prefetch_hint(model: str, pretrained: str | None) -> str:
    """``, or copy ... (`hf download REPO`)`` for weights that live on the hub, else ``""``."""
    if model.startswith(HF_HUB_PREFIX):
        repo = model[len(HF_HUB_PREFIX):]
    else:
        from open_clip.pretrained import get_pretrained_cfg

        repo = os.path.dirname(get_pretrained_cfg(model, pretrained or "").get("hf_hub", ""))
    if not repo:
        return ""
    return f", or copy a Hugging Face cache that holds it (`hf download {repo}`)"


def pretrained_from_env() -> tuple[str, str | None] | None:
    """(model, tag or checkpoint path) named by ``LANGSTACK_CLIP_PRETRAINED``, or None if unset.

    The value is ``MODEL:TAG``, ``hf-hub:ORG/REPO`` or a checkpoint path (its model:
    ``LANGSTACK_CLIP_MODEL``, default ``ViT-B-32``); a bare TAG is accepted with
    ``LANGSTACK_CLIP_MODEL`` set. Anything else is a ValueError naming the variable and the
    expected form.
    """
    pre = os.environ.get(ENV_PRETRAINED, "").strip()
    model = os.environ.get(ENV_MODEL, "").strip()
    if not pre:
        if model:
            raise ValueError(f"{ENV_MODEL}={model!r} is set without {ENV_PRETRAINED}; set "
                             f"{ENV_PRETRAINED} to {ENV_FORM}")
        return None
    if os.path.isfile(pre):
        return model or ENV_PATH_MODEL, pre
    if ":" in pre:
        name, tag = parse_clip(pre, ENV_PRETRAINED, ENV_FORM)
        if model and model != name:
            raise ValueError(f"{ENV_PRETRAINED}={pre!r} names model {name!r} but {ENV_MODEL} "
                             f"is {model!r}")
        return name, tag
    if model:
        check_tag(model, pre, f"{ENV_PRETRAINED}={pre!r}", ENV_FORM)
        return model, pre
    raise ValueError(f"{ENV_PRETRAINED}={pre!r} is neither an existing file nor MODEL:TAG; "
                     f"expected {ENV_FORM}")


def tokenizer(name: str, context_length: int | None = None) -> Any:
    """open_clip's tokenizer for model ``name``."""
    import open_clip

    register_configs()
    return open_clip.get_tokenizer(name, context_length=context_length)


__all__ = [
    "CLIP_FORM", "DEFAULT_PRETRAINED", "EMBEDDED_MODEL", "ENV_FORM", "ENV_MODEL", "ENV_PRETRAINED",
    "ModelSpec", "PretrainedWeightsMissing", "cached_default", "clip_label", "create_model",
    "fallback_detector", "fetch_or_fallback", "find_pretrained", "parse_clip", "pretrained_from_env", "quiet_open_clip", "register_configs",
    "resolve_pretrained", "tokenizer",
]
