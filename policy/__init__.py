"""Policy: the language-conditioned transformer policy, behaviour cloning, episode store.

Modules: ``layout`` (state vector), ``model`` (TransformerPolicy), ``checkpoint``
(safetensors + JSON), ``bc`` (behaviour cloning), ``store`` (on-disk episodes), ``relabel``
(hindsight labels). ``store``, ``relabel`` and ``layout`` do not import torch; the names
below are imported lazily on first access so that ``import policy`` stays light.
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "PolicyConfig": "model",
    "TransformerPolicy": "model",
    "make_policy": "model",
    "save_policy": "checkpoint",
    "load_policy": "checkpoint",
    "CheckpointError": "checkpoint",
    "BCConfig": "bc",
    "BCDataset": "bc",
    "BCStep": "bc",
    "train_bc": "bc",
    "labelled_steps": "bc",
    "action_error": "bc",
    "Episode": "episode",
    "EpisodeStore": "store",
    "StoreError": "store",
    "CorruptEpisodeError": "store",
    "relabel_newly_detected": "relabel",
    "relabel_env_success": "relabel",
    "merge_labels": "relabel",
    "STATE_DIM": "layout",
    "OBJECT_SLOTS": "layout",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"policy.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'policy' has no attribute {name!r}")
