"""FLAN-T5 planner (transformers): few-shot prompt, greedy decoding, parsed and validated plan.

Weights come from a directory written by ``save_pretrained``, or from a model id: the Hugging
Face cache first (no network), else downloaded by transformers into that cache on first use
-- unless downloads are off (``--offline``, ``HF_HUB_OFFLINE=1``) or the hub does not answer
within seconds (:mod:`perception.hub`), which makes :class:`WeightsUnavailable` at once.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from perception.hub import HF_CACHE_HINT, download_blocker, endpoint, fetch_advice
from planner.base import InstructionError, PlanParseError, PlannerUnavailable
from planner.parse import parse_plan
from planner.prompt import build_prompt

DEFAULT_MODEL = "google/flan-t5-base"
MAX_NEW_TOKENS = 160  # four captions of ~15 tokens each, with numbering, fit easily

_PLANS: dict[tuple[str, str], tuple[str, ...]] = {}
"""Decomposition cache: (model id, instruction) -> captions."""
_LOADED: dict[str, tuple[Any, Any]] = {}


class WeightsUnavailable(PlannerUnavailable):
    """No FLAN-T5 weights for a model id or directory: none here and none downloadable.

    ``why`` says why nothing was downloaded (None for a local directory, which is never
    downloaded) and ``advice`` how to get the weights; the message is one line with both.
    """

    def __init__(self, model_id: str, why: str | None = None) -> None:
        self.model_id, self.why = model_id, why
        self.advice = _advice(model_id)
        super().__init__(how_to_provide(model_id, why))


def is_local(model_id: str) -> bool:
    """Whether ``model_id`` names a directory (never downloaded) rather than a hub model id."""
    return model_id.startswith((os.sep, ".", "~")) or os.path.isdir(model_id)


def how_to_provide(model_id: str, why: str | None = None) -> str:
    """One line: why the weights are missing and how to provide them."""
    if model_id.startswith((os.sep, ".", "~")) and not os.path.isdir(model_id):
        return (f"no such directory {model_id!r}; pass --model a directory written by "
                "save_pretrained or a model id that is in the Hugging Face cache")
    if os.path.isdir(model_id):
        return (f"no FLAN-T5 weights in {model_id!r} (expected config.json, the model weights and "
                "the tokenizer files written by save_pretrained)")
    missing = f"FLAN-T5 weights for {model_id!r} are not available offline"
    if why:
        missing += f" and were not downloaded: {why}"
    return f"{missing}; {_advice(model_id)}"


def _advice(model_id: str) -> str:
    """How to get the weights of hub model ``model_id``."""
    return (f"{fetch_advice()}, or copy a Hugging Face cache that holds it (`hf download "
            f"{model_id}`), or pass --model /path/to/local/dir")


def weights_present(model_id: str) -> bool:
    """A cheap check (no torch, no transformers) that ``model_id`` may be loadable offline."""
    if os.path.isdir(model_id):
        return os.path.isfile(os.path.join(model_id, "config.json"))
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(model_id, "config.json"), str)
    except (ImportError, ValueError):  # not installed, or not a valid repo id
        return False


def load_flan_t5(model: str | None = None,
                 say: Callable[[str], None] | None = None) -> tuple[Any, Any]:
    """(tokenizer, model) from a local dir, the HF cache, or a download into that cache.

    A download is tried only for a model id whose weights are not cached and only if the hub
    answers (see :mod:`perception.hub`); ``say`` hears one line before it starts. Raises
    :class:`WeightsUnavailable` (a ``PlannerUnavailable``) when there are no weights.
    """
    model_id = os.path.expanduser(model or DEFAULT_MODEL)
    key = os.path.abspath(model_id) if os.path.isdir(model_id) else model_id
    if key in _LOADED:
        return _LOADED[key]
    if weights_present(model_id):
        try:
            _LOADED[key] = _from_pretrained(model_id, local_only=True)
            return _LOADED[key]
        except WeightsUnavailable:
            if is_local(model_id):
                raise  # a partly cached model id may still be completed by a download
    if is_local(model_id):
        raise WeightsUnavailable(model_id)
    why = download_blocker()
    if why is not None:
        raise WeightsUnavailable(model_id, why)
    if say is not None:
        say(f"planner: downloading {model_id} from {endpoint()} into {HF_CACHE_HINT}")
    _LOADED[key] = _from_pretrained(model_id, local_only=False)
    return _LOADED[key]


def _from_pretrained(model_id: str, local_only: bool) -> tuple[Any, Any]:
    """Tokenizer and model through transformers (network only if not ``local_only``)."""
    try:
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer
        from transformers.utils import logging as hf_logging
    except ImportError as exc:
        raise PlannerUnavailable(f"the FLAN-T5 planner needs transformers: {exc}") from None
    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()  # transformers' bars and huggingface_hub's
    if bars and not local_only:  # a download shows its progress (huggingface_hub's bars)
        from huggingface_hub.utils import enable_progress_bars

        enable_progress_bars()
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_id, local_files_only=local_only)
        net = AutoModelForSeq2SeqLM.from_pretrained(model_id, local_files_only=local_only)
    except Exception as exc:  # a download fails in many ways (HTTP, network, files)
        if local_only and not isinstance(exc, (OSError, ValueError)):
            raise  # missing or broken local files are OSError/ValueError; others are bugs
        why = None if local_only else f"the download from {endpoint()} failed ({_one_line(exc)})"
        raise WeightsUnavailable(model_id, why) from exc
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()
    net.eval()
    return tokenizer, net


def _one_line(exc: BaseException) -> str:
    """An exception as one short line."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


class FlanT5Planner:
    """Instruction -> captions with a seq2seq LM (FLAN-T5 in the paper)."""

    name = "flan-t5"

    def __init__(self, tokenizer: Any, model: Any, model_id: str = DEFAULT_MODEL,
                 max_new_tokens: int = MAX_NEW_TOKENS) -> None:
        self.tokenizer = tokenizer
        self.model = model
        self.model_id = model_id
        self.max_new_tokens = max_new_tokens

    @classmethod
    def load(cls, model: str | None = None,
             say: Callable[[str], None] | None = None) -> FlanT5Planner:
        """Resolve ``model`` (id or local dir, default FLAN-T5 base; see :func:`load_flan_t5`)
        and build the planner."""
        model_id = os.path.expanduser(model or DEFAULT_MODEL)
        return cls(*load_flan_t5(model_id, say=say), model_id=model_id)

    def generate(self, prompt: str) -> str:
        """Greedy (deterministic) continuation of ``prompt``, decoded to text."""
        import torch

        enc = self.tokenizer(prompt, return_tensors="pt")
        inputs = {k: enc[k].to(self.model.device) for k in ("input_ids", "attention_mask") if k in enc}
        with torch.no_grad():  # greedy: deterministic
            out = self.model.generate(
                **inputs, max_new_tokens=self.max_new_tokens, do_sample=False, num_beams=1
            )
        return self.tokenizer.decode(out[0], skip_special_tokens=True)

    def plan(self, instruction: str) -> list[str]:
        """Captions the model gives for ``instruction`` (validated; cached per model)."""
        text = instruction.strip()
        if not text:
            raise InstructionError("cannot plan '': the instruction is empty")
        key = (self.model_id, text)
        if key not in _PLANS:
            output = self.generate(build_prompt(text))
            try:
                _PLANS[key] = tuple(parse_plan(output))
            except PlanParseError as exc:
                raise PlanParseError(f"{self.model_id} could not plan {text!r}: {exc}") from None
        return list(_PLANS[key])
