"""FLAN-T5 planner (transformers): few-shot prompt, greedy decoding, parsed and validated plan.

Weights are only ever read locally -- a directory written by ``save_pretrained`` or a model id
already in the Hugging Face cache -- with ``local_files_only=True`` and the hub set offline.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from planner.base import InstructionError, PlanParseError, PlannerUnavailable
from planner.parse import parse_plan
from planner.prompt import build_prompt

DEFAULT_MODEL = "google/flan-t5-base"
MAX_NEW_TOKENS = 160  # four captions of ~15 tokens each, with numbering, fit easily

_PLANS: dict[tuple[str, str], tuple[str, ...]] = {}
"""Decomposition cache: (model id, instruction) -> captions."""
_LOADED: dict[str, tuple[Any, Any]] = {}


def how_to_provide(model_id: str) -> str:
    """One line: why the weights are missing and how to provide them."""
    if model_id.startswith((os.sep, ".", "~")) and not os.path.isdir(model_id):
        return (f"no such directory {model_id!r}; pass --model a directory written by "
                "save_pretrained or a model id that is in the Hugging Face cache")
    if os.path.isdir(model_id):
        return (f"no FLAN-T5 weights in {model_id!r} (expected config.json, the model weights and "
                "the tokenizer files written by save_pretrained)")
    return (f"FLAN-T5 weights for {model_id!r} are not available offline; download them on a machine "
            f"with internet (`huggingface-cli download {model_id}`) and copy the Hugging Face cache "
            "(~/.cache/huggingface), or pass --model /path/to/local/dir")


def weights_present(model_id: str) -> bool:
    """A cheap check (no torch, no transformers) that ``model_id`` may be loadable offline."""
    if os.path.isdir(model_id):
        return os.path.isfile(os.path.join(model_id, "config.json"))
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(model_id, "config.json"), str)
    except (ImportError, ValueError):  # not installed, or not a valid repo id
        return False


@contextmanager
def _offline() -> Iterator[None]:
    """Make sure nothing reaches the network while weights are resolved."""
    saved = {k: os.environ.get(k) for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    os.environ.update({k: "1" for k in saved})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def load_flan_t5(model: str | None = None) -> tuple[Any, Any]:
    """(tokenizer, model) from a local dir or the HF cache; ``PlannerUnavailable`` otherwise."""
    model_id = os.path.expanduser(model or DEFAULT_MODEL)
    key = os.path.abspath(model_id) if os.path.isdir(model_id) else model_id
    if key in _LOADED:
        return _LOADED[key]
    if not weights_present(model_id):
        raise PlannerUnavailable(how_to_provide(model_id))
    with _offline():
        try:
            from transformers import AutoModelForSeq2SeqLM, AutoTokenizer
            from transformers.utils import logging as hf_logging
        except ImportError as exc:
            raise PlannerUnavailable(f"the FLAN-T5 planner needs transformers: {exc}") from None
        verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        try:
            tokenizer = AutoTokenizer.from_pretrained(model_id, local_files_only=True)
            net = AutoModelForSeq2SeqLM.from_pretrained(model_id, local_files_only=True)
        except (OSError, ValueError) as exc:  # missing files, or an id the hub would have to resolve
            raise PlannerUnavailable(how_to_provide(model_id)) from exc
        finally:
            hf_logging.set_verbosity(verbosity)
            if bars:
                hf_logging.enable_progress_bar()
    net.eval()
    _LOADED[key] = (tokenizer, net)
    return tokenizer, net


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
    def load(cls, model: str | None = None) -> FlanT5Planner:
        """Resolve ``model`` (id or local dir, default FLAN-T5 base) offline and build the planner."""
        model_id = os.path.expanduser(model or DEFAULT_MODEL)
        return cls(*load_flan_t5(model_id), model_id=model_id)

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
