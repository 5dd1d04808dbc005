"""When a stored run is the run a command asks for (run identity).

A reproduction reuses a stored run only when everything that fixes what the run learned and
measured matches: every ``TrainConfig`` setting, the planner that actually ran (not "auto")
and the detector, identified by a hash of its weights (not by its path: the cached default
keeps its path across rebuilds). Otherwise the run is refused with the differing field named.
"""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from experiments.collect_infer.config import TrainConfig

NOT_IDENTITY = frozenset({"video", "detector_path"})
"""Settings that do not change a run's numbers: whether an eval video is written, and where
the detector lies (its weights' hash stands for it)."""
EXTENDABLE = frozenset({"min_env_steps"})
"""Settings a stored run may have less of: it is resumed until it meets the asked value."""


def run_identity(planner: str | None, detector_sha256: str | None) -> dict[str, Any]:
    """What a run's ``config.json`` records besides its settings: the planner that ran and the
    detector's weights hash."""
    return {"planner": planner, "detector_sha256": detector_sha256}


def identity_of(cfg: TrainConfig) -> dict[str, Any]:
    """The :func:`run_identity` of a run with ``cfg`` today: the planner ``cfg.planner``
    resolves to (None for the baseline, which plans nothing) and the hash of the detector at
    ``cfg.detector_path`` (None: today's cached default; "<not built yet>" if there is none,
    which no stored run matches: it cannot have been made with it)."""
    from experiments.collect_infer.prepare import cached_planner
    from perception.card import weights_sha256
    from perception.detector import WEIGHTS_FILE

    planner = cached_planner(cfg.planner).name if cfg.agent == "framework" else None
    path = cfg.detector_path
    if path is None:
        from perception.loader import ensure_default_detector

        try:
            path = str(ensure_default_detector(build_if_missing=False))
        except FileNotFoundError:
            return run_identity(planner, "<default detector not built yet>")
    return run_identity(planner, weights_sha256(Path(path) / WEIGHTS_FILE))


def check_reusable(stored_config: dict[str, Any], cfg: TrainConfig, where: str) -> None:
    """ValueError naming every differing field unless the stored run (its ``config.json``)
    is the run ``cfg`` asks for."""
    wanted = identity_of(cfg)
    diff = differences(stored_config.get("train", {}), cfg, stored_config.get("identity"),
                       wanted["planner"], wanted["detector_sha256"])
    if diff:
        raise ValueError(f"{where} is another run than the one asked for ({'; '.join(diff)}): "
                         f"choose another --out, or delete it to run it again")


def differences(stored: dict[str, Any], cfg: TrainConfig,
                stored_identity: dict[str, Any] | None,
                planner: str | None, detector_sha256: str | None) -> list[str]:
    """Each way the stored run (its ``config.json`` "train" settings and "identity") differs
    from the asked one, as "field: stored X, asked Y"; empty when it may be reused."""
    out = []
    wanted = asdict(cfg)
    for name, value in wanted.items():
        if name in NOT_IDENTITY:
            continue
        have = stored.get(name, "<not recorded>")
        if isinstance(value, tuple) and isinstance(have, list):
            have = tuple(have)
        if name in EXTENDABLE and isinstance(have, int) and have <= value:
            continue
        if have != value:
            out.append(f"{name}: stored {have!r}, asked {value!r}")
    for name in sorted(set(stored) - set(wanted)):
        out.append(f"{name}: stored {stored[name]!r}, unknown to this version")
    ident = stored_identity or {}
    for name, value in (("planner", planner), ("detector_sha256", detector_sha256)):
        have = ident.get(name, "<not recorded>")
        if have != value:
            out.append(f"{name}: stored {have!r}, asked {value!r}")
    return out
