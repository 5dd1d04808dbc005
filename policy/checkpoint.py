"""Policy checkpoints: ``model.safetensors`` (weights) + ``config.json`` (PolicyConfig).

Nothing is pickled: weights are safetensors, the config is plain JSON. Loading is strict:
every parameter must be present with the right shape, and no extra ones.
"""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from policy.model import PolicyConfig, TransformerPolicy

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
FORMAT = "langstack.policy"
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint directory is missing, incomplete, corrupt or does not match its config."""


def save_policy(policy: TransformerPolicy, directory: str | os.PathLike[str]) -> Path:
    """Write ``policy`` to ``directory`` (created if needed); returns the directory.

    Each file is written to a temporary name and renamed, so a reader never sees half a file.
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in policy.state_dict().items()}
    tmp_weights = out / (WEIGHTS_FILE + ".tmp")
    save_file(tensors, str(tmp_weights), metadata={"format": FORMAT})
    os.replace(tmp_weights, out / WEIGHTS_FILE)
    doc = {"format": FORMAT, "version": FORMAT_VERSION, "config": dataclasses.asdict(policy.config)}
    tmp_config = out / (CONFIG_FILE + ".tmp")
    tmp_config.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp_config, out / CONFIG_FILE)
    return out


def load_config(directory: str | os.PathLike[str]) -> PolicyConfig:
    """Read the :class:`PolicyConfig` of a checkpoint directory."""
    path = Path(directory) / CONFIG_FILE
    if not Path(directory).is_dir():
        raise CheckpointError(f"policy checkpoint directory not found: {directory}")
    if not path.is_file():
        raise CheckpointError(f"not a policy checkpoint (no {CONFIG_FILE}): {directory}")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"corrupt {path}: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a {FORMAT} config")
    if doc.get("version") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: unsupported version {doc.get('version')!r}")
    fields = doc.get("config")
    known = {f.name for f in dataclasses.fields(PolicyConfig)}
    if not isinstance(fields, dict) or set(fields) - known:
        extra = sorted(set(fields) - known) if isinstance(fields, dict) else fields
        raise CheckpointError(f"{path}: bad config fields {extra!r}")
    try:
        return PolicyConfig(**fields)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: invalid config: {exc}") from None


def load_policy(directory: str | os.PathLike[str], device: str = "cpu") -> TransformerPolicy:
    """Load a policy saved by :func:`save_policy` (strict), in eval mode, on ``device``."""
    config = load_config(directory)
    weights = Path(directory) / WEIGHTS_FILE
    if not weights.is_file():
        raise CheckpointError(f"not a policy checkpoint (no {WEIGHTS_FILE}): {directory}")
    try:
        tensors = load_file(str(weights), device=device)
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"corrupt {weights}: {exc}") from None
    policy = TransformerPolicy(config).to(device)
    try:
        policy.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        raise CheckpointError(
            f"{weights} does not match {CONFIG_FILE}: {' '.join(line.strip() for line in first)}"
        ) from None
    return policy.eval()
