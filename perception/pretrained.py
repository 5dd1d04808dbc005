"""Pretrained CLIP weights: where they are, reading ``MODEL:TAG``, and fetching them.

Weights are an open_clip tag of a model (``ViT-B-32:laion2b_s34b_b79k``), a checkpoint file,
or a whole open_clip model on the Hugging Face hub (``hf-hub:ORG/REPO``: its
``open_clip_config.json`` and weights). They are looked up in the local caches first
(open_clip's Hugging Face cache or ``~/.cache/clip``, no network); where downloads are allowed
and the hub answers within seconds (:mod:`perception.hub`), missing ones are downloaded into
the Hugging Face cache as open_clip does. Otherwise :class:`PretrainedWeightsMissing` comes
at once, saying why. :func:`parse_clip` is the one reader of ``MODEL:TAG`` / ``hf-hub:``.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable

from perception.hub import HF_CACHE_HINT, download_blocker, endpoint

HF_HUB_PREFIX = "hf-hub:"
HUB_CONFIG_FILE = "open_clip_config.json"
"""The model config of an open_clip model on the hub (``model_cfg``, ``preprocess_cfg``)."""
HUB_WEIGHTS: dict[str, str] = {"hf_hub": "{repo}/"}
"""An hf-hub model's weights as an open_clip tag config: the repo's default weights file
(``open_clip_model.safetensors``, else ``open_clip_pytorch_model.bin``)."""
CLIP_FORM = ("MODEL:TAG (an open_clip model and one of its pretrained tags, e.g. "
             "ViT-B-32:laion2b_s34b_b79k) or hf-hub:ORG/REPO (an open_clip model on the "
             "Hugging Face hub)")


class PretrainedWeightsMissing(FileNotFoundError):
    """The requested pretrained CLIP weights are not on this machine (and not downloadable).

    ``why`` says why they were not downloaded (None: no download was allowed or tried).
    """

    def __init__(self, message: str, why: str | None = None) -> None:
        super().__init__(message)
        self.why = why


def _clip_cache_dir(cache_dir: str | None) -> str:
    return cache_dir or os.path.expanduser("~/.cache/clip")


def clip_label(name: str, pretrained: str | None) -> str:
    """How weights are named to users: ``MODEL:TAG``, ``hf-hub:ORG/REPO`` or ``MODEL:FILE``."""
    return name if pretrained is None else f"{name}:{pretrained}"


def resolve_pretrained(name: str, pretrained: str | None, cache_dir: str | None = None,
                       allow_download: bool = False,
                       say: Callable[[str], None] | None = None) -> tuple[str, dict[str, Any]]:
    """A local checkpoint file for ``pretrained`` (a path or a tag of model ``name``), or for
    the hf-hub model ``name`` (``pretrained`` None).

    Returns ``(path, tag_config)``; ``tag_config`` carries the preprocessing (mean, std,
    quick_gelu) and, for an hf-hub model, the open_clip config ``name`` it was registered
    under. Raises :class:`PretrainedWeightsMissing` if nothing is found locally and, with
    ``allow_download``, nothing could be downloaded either (``say`` hears of a download).
    """
    path, tag_cfg = _locate(name, pretrained, cache_dir)
    if path is None:
        path = _download(name, pretrained, tag_cfg, cache_dir, allow_download, say)
    if name.startswith(HF_HUB_PREFIX):
        tag_cfg = _hub_tag_config(name, cache_dir)
    return path, tag_cfg


def check_obtainable(name: str, pretrained: str | None, cache_dir: str | None = None) -> None:
    """Cheap (no download): the weights are in the local caches, or the hub answers.

    Raises :class:`PretrainedWeightsMissing` (with ``why``) otherwise.
    """
    path, _ = _locate(name, pretrained, cache_dir)
    why = None if path is not None else download_blocker()
    if why is not None:
        raise PretrainedWeightsMissing(f"{_not_cached(name, pretrained, cache_dir)} and cannot be "
                                       f"downloaded: {why}", why)


def _locate(name: str, pretrained: str | None,
            cache_dir: str | None) -> tuple[str | None, dict[str, Any]]:
    """(cached checkpoint or None, tag config) without network; raises
    :class:`PretrainedWeightsMissing` for a tag ``name`` does not have."""
    if name.startswith(HF_HUB_PREFIX):
        repo = name[len(HF_HUB_PREFIX):]
        tag_cfg = {k: v.format(repo=repo) for k, v in HUB_WEIGHTS.items()}
        config = _cached_hub_file(repo, HUB_CONFIG_FILE, cache_dir)
        return (_cached_tag_file(tag_cfg, cache_dir) if config else None), tag_cfg
    if pretrained is not None and os.path.isfile(pretrained):
        return pretrained, {}
    from open_clip.pretrained import get_pretrained_cfg, list_pretrained_tags_by_model

    tag_cfg = get_pretrained_cfg(name, pretrained or "")
    if not tag_cfg:
        tags = list_pretrained_tags_by_model(name)
        raise PretrainedWeightsMissing(
            f"pretrained={pretrained!r} is neither a file nor a known open_clip tag of {name!r}"
            + (f" (tags: {', '.join(tags)})" if tags else ""))
    return _cached_tag_file(tag_cfg, cache_dir), tag_cfg


def _not_cached(name: str, pretrained: str | None, cache_dir: str | None) -> str:
    what = name if pretrained is None else f"{name}/{pretrained}"
    return f"{what} weights are not in the local open_clip cache ({cache_dir or 'default cache dirs'})"


def _download(name: str, pretrained: str | None, tag_cfg: dict[str, Any], cache_dir: str | None,
              allow_download: bool, say: Callable[[str], None] | None) -> str:
    """Fetch the weights (and an hf-hub model's config) into the Hugging Face cache."""
    missing = _not_cached(name, pretrained, cache_dir)
    if not allow_download:
        raise PretrainedWeightsMissing(missing)
    why = download_blocker()
    if why is not None:
        raise PretrainedWeightsMissing(f"{missing} and were not downloaded: {why}", why)
    from open_clip.pretrained import download_pretrained
    if say is not None:
        say(f"detector: downloading {clip_label(name, pretrained)} from {endpoint()} into "
            f"{HF_CACHE_HINT}")
    try:
        if name.startswith(HF_HUB_PREFIX):
            from huggingface_hub import hf_hub_download

            hf_hub_download(name[len(HF_HUB_PREFIX):], HUB_CONFIG_FILE, cache_dir=cache_dir)
        path = download_pretrained(tag_cfg, cache_dir=cache_dir)
    except Exception as exc:  # network and HTTP errors come in many types
        why = f"the download from {endpoint()} failed ({' '.join(str(exc).split())[:200]})"
        raise PretrainedWeightsMissing(f"{missing} and {why}", why) from exc
    if not path:
        raise PretrainedWeightsMissing(f"{missing} and the download gave no file", "no file")
    return path


def _cached_hub_file(repo: str, filename: str, cache_dir: str | None) -> str | None:
    """``filename`` of hub repo ``repo`` in the Hugging Face cache (no network), or None."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    hit = try_to_load_from_cache(repo, filename, cache_dir=cache_dir)
    return hit if isinstance(hit, str) and os.path.isfile(hit) else None


def _cached_tag_file(tag_cfg: dict[str, Any], cache_dir: str | None) -> str | None:
    """The tag's checkpoint in the local caches (no network), or None."""
    if "file" in tag_cfg and os.path.isfile(tag_cfg["file"]):
        return tag_cfg["file"]
    hub = tag_cfg.get("hf_hub", "")
    if hub:
        repo, filename = os.path.split(hub)  # "org/name/file" or "org/name/" (default file)
        names = [filename] if filename else ["open_clip_model.safetensors",
                                             "open_clip_pytorch_model.bin"]
        if filename.endswith((".bin", ".pth")):
            names.insert(0, filename[:-4] + ".safetensors")
        for fn in names:
            hit = _cached_hub_file(repo, fn, cache_dir)
            if hit is not None:
                return hit
    url = tag_cfg.get("url", "")
    if url:
        target = os.path.join(_clip_cache_dir(cache_dir), os.path.basename(url))
        if os.path.isfile(target):
            return target
    return None


def hub_config_name(model: str) -> str:
    """The open_clip config name an hf-hub model is registered under (a plain file stem)."""
    return "hf-hub--" + model[len(HF_HUB_PREFIX):].replace("/", "--")


def _hub_tag_config(model: str, cache_dir: str | None) -> dict[str, Any]:
    """Register the cached ``open_clip_config.json`` of hf-hub ``model`` with open_clip (so
    that a detector fine-tuned from it loads offline) and return its preprocessing."""
    from perception.detector import register_config

    path = _cached_hub_file(model[len(HF_HUB_PREFIX):], HUB_CONFIG_FILE, cache_dir)
    try:
        config = json.loads(Path(str(path)).read_text())
        model_cfg, pre = config["model_cfg"], config.get("preprocess_cfg", {})
        if not isinstance(model_cfg, dict) or not isinstance(pre, dict):
            raise TypeError("model_cfg and preprocess_cfg must be objects")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ValueError(f"{model}: unusable {HUB_CONFIG_FILE} ({path}): {exc}") from None
    name = hub_config_name(model)
    register_config(name, model_cfg)
    return {"name": name, "mean": pre.get("mean"), "std": pre.get("std")}


def parse_clip(text: str, label: str = "--clip", form: str = CLIP_FORM) -> tuple[str, str | None]:
    """(model, tag) from ``MODEL:TAG``, or (``hf-hub:ORG/REPO``, None); nothing is read from
    disk or network. A ValueError names ``label``, the value and the expected ``form``."""
    value = text.strip()
    if value.startswith(HF_HUB_PREFIX):
        repo = value[len(HF_HUB_PREFIX):]
        try:
            from huggingface_hub.utils import validate_repo_id

            if repo.count("/") != 1:
                raise ValueError("the repo must be ORG/REPO")
            validate_repo_id(repo)
        except ValueError as exc:
            raise ValueError(f"{label}={value!r}: {' '.join(str(exc).split())}; expected {form}") from None
        return value, None
    name, sep, tag = value.partition(":")
    if not (sep and name and tag):
        raise ValueError(f"{label}={value!r} is not MODEL:TAG; expected {form}")
    check_tag(name, tag, f"{label}={value!r}", form)
    return name, tag


def check_tag(name: str, tag: str, where: str, form: str) -> None:
    """ValueError (prefixed ``where``) unless ``name`` is an open_clip model and ``tag`` one
    of its pretrained tags."""
    import open_clip

    from perception.factory import register_configs

    register_configs()
    if name not in open_clip.list_models():
        raise ValueError(f"{where}: unknown open_clip model {name!r}; expected {form}")
    tags = open_clip.list_pretrained_tags_by_model(name)
    if tag not in tags:
        raise ValueError(f"{where}: {tag!r} is not a pretrained tag of {name} (tags: "
                         f"{', '.join(tags) or 'none'}); expected {form}")
