"""Model factory: an open_clip model by name, with pretrained weights when they are present.

Two sources, one code path (``open_clip.create_model_and_transforms``):

* **Pretrained CLIP** (e.g. ``ViT-B-32``): ``pretrained`` is a checkpoint file or an open_clip
  tag (``laion2b_s34b_b79k``, ``openai``, ...). A tag is resolved in the local caches only
  (open_clip's Hugging Face cache or ``~/.cache/clip``) unless downloads are allowed, so an
  offline machine fails fast with :class:`PretrainedWeightsMissing` instead of retrying the
  hub for a minute. The detector fine-tunes these weights.
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
from typing import Any, Iterator

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
ENV_FORM = ("MODEL:TAG (an open_clip model and one of its pretrained tags, e.g. "
            "ViT-B-32:laion2b_s34b_b79k) or the path of a checkpoint file")

_registered = False


class PretrainedWeightsMissing(FileNotFoundError):
    """The requested pretrained CLIP weights are not on this machine (and not downloadable)."""


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


def _clip_cache_dir(cache_dir: str | None) -> str:
    return cache_dir or os.path.expanduser("~/.cache/clip")


def resolve_pretrained(name: str, pretrained: str, cache_dir: str | None = None,
                       allow_download: bool = False) -> tuple[str, dict[str, Any]]:
    """A local checkpoint file for ``pretrained`` (a path or a tag of model ``name``).

    Returns ``(path, tag_config)``; ``tag_config`` carries the tag's preprocessing (mean,
    std, quick_gelu). Raises :class:`PretrainedWeightsMissing` if nothing is found locally
    (and, with ``allow_download``, if the download fails too).
    """
    if os.path.isfile(pretrained):
        return pretrained, {}
    from open_clip.pretrained import download_pretrained, get_pretrained_cfg, list_pretrained_tags_by_model

    tag_cfg = get_pretrained_cfg(name, pretrained)
    if not tag_cfg:
        tags = list_pretrained_tags_by_model(name)
        raise PretrainedWeightsMissing(
            f"pretrained={pretrained!r} is neither a file nor a known open_clip tag of {name!r}"
            + (f" (tags: {', '.join(tags)})" if tags else ""))
    path = _cached_tag_file(tag_cfg, cache_dir)
    if path is None and allow_download:
        try:
            path = download_pretrained(tag_cfg, cache_dir=cache_dir) or None
        except Exception as exc:  # network errors come in many types
            raise PretrainedWeightsMissing(f"could not download {name}/{pretrained}: {exc}") from exc
    if path is None:
        raise PretrainedWeightsMissing(
            f"{name}/{pretrained} weights are not in the local open_clip cache "
            f"({cache_dir or 'default cache dirs'})")
    return path, tag_cfg


def _cached_tag_file(tag_cfg: dict[str, Any], cache_dir: str | None) -> str | None:
    """The tag's checkpoint in the local caches (no network), or None."""
    if "file" in tag_cfg and os.path.isfile(tag_cfg["file"]):
        return tag_cfg["file"]
    hub = tag_cfg.get("hf_hub", "")
    if hub:
        try:
            from huggingface_hub import try_to_load_from_cache
        except ImportError:
            return None
        repo, filename = os.path.split(hub)  # "org/name/file" or "org/name/" (default file)
        names = [filename] if filename else ["open_clip_model.safetensors",
                                             "open_clip_pytorch_model.bin"]
        if filename.endswith((".bin", ".pth")):
            names.insert(0, filename[:-4] + ".safetensors")
        for fn in names:
            hit = try_to_load_from_cache(repo, fn, cache_dir=cache_dir)
            if isinstance(hit, str) and os.path.isfile(hit):
                return hit
    url = tag_cfg.get("url", "")
    if url:
        target = os.path.join(_clip_cache_dir(cache_dir), os.path.basename(url))
        if os.path.isfile(target):
            return target
    return None


def create_model(name: str = EMBEDDED_MODEL, pretrained: str | None = None, *,
                 device: str = "cpu", cache_dir: str | None = None,
                 allow_download: bool = False) -> tuple[Any, ModelSpec]:
    """An open_clip model and its :class:`ModelSpec`.

    ``pretrained=None`` gives a randomly initialised model (the embedded default is trained
    from scratch); otherwise the weights are loaded from the file or cached tag (raises
    :class:`PretrainedWeightsMissing` if absent).
    """
    import open_clip

    register_configs()
    if name not in open_clip.list_models():
        raise ValueError(f"unknown open_clip model {name!r}")
    kwargs: dict[str, Any] = {}
    source = "scratch"
    if pretrained is not None:
        path, tag_cfg = resolve_pretrained(name, pretrained, cache_dir, allow_download)
        source = path if os.path.isfile(pretrained) else f"{pretrained}@{path}"
        if tag_cfg.get("mean") is not None:
            kwargs["image_mean"] = tuple(tag_cfg["mean"])
        if tag_cfg.get("std") is not None:
            kwargs["image_std"] = tuple(tag_cfg["std"])
        if tag_cfg.get("quick_gelu"):
            kwargs["force_quick_gelu"] = True
        pretrained = path
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
                    cache_dir: str | None = None) -> tuple[str, str] | None:
    """The first (model, tag_or_path) whose weights are on this machine, or None.

    Weights named by the environment (:func:`pretrained_from_env`) are the only candidate
    when set: if they are malformed (ValueError) or missing (:class:`PretrainedWeightsMissing`),
    that is an error naming the variable, never a silent fallback.
    """
    named = pretrained_from_env()
    if named is not None:
        try:
            resolve_pretrained(*named, cache_dir)
        except PretrainedWeightsMissing as exc:
            raise PretrainedWeightsMissing(f"{ENV_PRETRAINED}: {exc}") from None
        return named
    candidates = DEFAULT_PRETRAINED if candidates is None else candidates
    for name, pre in candidates:
        try:
            resolve_pretrained(name, pre, cache_dir)
        except PretrainedWeightsMissing:
            continue
        return name, pre
    return None


def pretrained_from_env() -> tuple[str, str] | None:
    """(model, tag or checkpoint path) named by ``LANGSTACK_CLIP_PRETRAINED``, or None if unset.

    The value is ``MODEL:TAG`` or a checkpoint path (its model: ``LANGSTACK_CLIP_MODEL``,
    default ``ViT-B-32``); a bare TAG is accepted with ``LANGSTACK_CLIP_MODEL`` set. Anything
    else is a ValueError naming the variable and the expected form.
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
    name, sep, tag = pre.partition(":")
    if sep:
        if model and model != name:
            raise ValueError(f"{ENV_PRETRAINED}={pre!r} names model {name!r} but {ENV_MODEL} "
                             f"is {model!r}")
        _check_env_tag(name, tag, pre)
        return name, tag
    if model:
        _check_env_tag(model, pre, pre)
        return model, pre
    raise ValueError(f"{ENV_PRETRAINED}={pre!r} is neither an existing file nor MODEL:TAG; "
                     f"expected {ENV_FORM}")


def _check_env_tag(name: str, tag: str, value: str) -> None:
    """ValueError unless ``name`` is an open_clip model and ``tag`` one of its tags."""
    import open_clip

    register_configs()
    if name not in open_clip.list_models():
        raise ValueError(f"{ENV_PRETRAINED}={value!r}: unknown open_clip model {name!r}; "
                         f"expected {ENV_FORM}")
    tags = open_clip.list_pretrained_tags_by_model(name)
    if tag not in tags:
        raise ValueError(f"{ENV_PRETRAINED}={value!r}: {tag!r} is not a pretrained tag of "
                         f"{name} (tags: {', '.join(tags) or 'none'}); expected {ENV_FORM}")


def tokenizer(name: str, context_length: int | None = None) -> Any:
    """open_clip's tokenizer for model ``name``."""
    import open_clip

    register_configs()
    return open_clip.get_tokenizer(name, context_length=context_length)
