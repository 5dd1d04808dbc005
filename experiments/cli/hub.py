"""``--offline`` and ``--clip``: the Hugging Face hub options of the commands that load
pretrained weights (plan, train, eval, run, imitate, perception train|eval).

Without ``--offline``, FLAN-T5 and CLIP weights missing here are downloaded on first use by
transformers / open_clip (huggingface_hub) into the Hugging Face cache, if the hub answers a
probe within seconds (:mod:`perception.hub`); otherwise the local fallback is used at once
and said. ``--clip MODEL:TAG`` names the pretrained CLIP the default detector is fine-tuned
from; it reaches the detector code through ``$LANGSTACK_CLIP_PRETRAINED``.
"""
from __future__ import annotations

import argparse
import os

from experiments.cli.util import UsageError, one_line, say


def add_offline_flag(parser: argparse.ArgumentParser) -> None:
    """--offline: no downloads from the Hugging Face hub (see :func:`apply_hub_flags`)."""
    parser.add_argument(
        "--offline", action="store_true",
        help="never download from the Hugging Face hub (sets HF_HUB_OFFLINE=1 for this process "
             "and those it starts); without it, FLAN-T5 / CLIP weights missing here are "
             "downloaded on first use if the hub ($HF_ENDPOINT, default https://huggingface.co) "
             "answers within 3 s, else the local fallback is used at once")


def clip_spec(text: str) -> str:
    """argparse type of --clip: not blank (the form is checked by ``use_clip``)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"expected MODEL:TAG or hf-hub:ORG/REPO, got {text!r}")
    return text


def add_clip_option(parser: argparse.ArgumentParser) -> None:
    """--clip MODEL:TAG: the pretrained CLIP the default detector is fine-tuned from."""
    parser.add_argument(
        "--clip", default=None, type=clip_spec, metavar="MODEL:TAG",
        help="pretrained CLIP weights the default detector is fine-tuned from: an open_clip "
             "model and pretrained tag (e.g. ViT-B-32:laion2b_s34b_b79k) or hf-hub:ORG/REPO; "
             "downloaded on first use when online (overrides $LANGSTACK_CLIP_PRETRAINED). If "
             "they cannot be had (--offline, hub unreachable) this is said and the default "
             "detector is used")


def apply_hub_flags(args: argparse.Namespace) -> None:
    """--offline, if the command has it and it was given: downloads off for the process.

    Call first in a command (cheap, no network)."""
    if getattr(args, "offline", False):
        from perception.hub import go_offline

        go_offline()


def use_clip(clip: str | None) -> tuple[str, str | None] | None:
    """--clip: the named weights fetched now (downloaded if missing and allowed), or the
    fallback said (None). The default detector then finds them through
    $LANGSTACK_CLIP_PRETRAINED, set (or, on fallback, cleared) for this process and those it
    starts. A malformed value is a UsageError, before any disk or network access."""
    if clip is None:
        return None
    from perception.factory import ENV_MODEL, ENV_PRETRAINED, clip_label, fetch_or_fallback

    try:
        found = fetch_or_fallback(clip, say)
    except ValueError as exc:
        raise UsageError(one_line(exc)) from None
    os.environ.pop(ENV_MODEL, None)
    if found is None:
        os.environ.pop(ENV_PRETRAINED, None)
    else:
        os.environ[ENV_PRETRAINED] = clip_label(*found)
    return found


def clip_build_weights(clip: str) -> tuple[str | None, str | None]:
    """(model, pretrained) a detector build uses for --clip: its weights (fetched now), or,
    when they cannot be had, what the fallback message named (cached weights, or
    ``(None, None)`` for the embedded default)."""
    from perception.factory import cached_default

    found = use_clip(clip) or cached_default()
    return found if found is not None else (None, None)


def check_clip_for_run(args: argparse.Namespace) -> None:
    """``train --clip`` picks the weights of the default detector a new clip-detector run
    builds: refused with --resume, --detector-path or --detector oracle."""
    if args.clip is None:
        return
    if args.resume:
        raise UsageError("--clip: a resumed run keeps the detector it was made with; leave "
                         "--clip out")
    if args.detector_path is not None:
        raise UsageError("--clip applies to the default detector, not to --detector-path")
    if args.detector == "oracle":
        raise UsageError("--clip applies to the clip detector, not to --detector oracle")
