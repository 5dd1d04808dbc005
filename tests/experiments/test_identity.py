"""Run identity: a stored run is reused only when every setting, the planner that ran and the
detector's weights match."""
from __future__ import annotations

from dataclasses import asdict, fields, replace

import pytest

from experiments.collect_infer.config import TrainConfig
from experiments.collect_infer.identity import (
    EXTENDABLE, NOT_IDENTITY, differences, run_identity,
)

BASE = TrainConfig(task="grasp the red object", max_env_steps=3000, eval_every=500)
IDENT = run_identity("grammar", "ab" * 32)


def _changed(name: str, value: object) -> object:
    """Another valid value of the setting ``name``."""
    other = {"agent": "baseline", "detector": "oracle", "planner": "grammar", "task":
             "grasp the blue object", "overlap": False, "set_down_exploring": False,
             "target_success": 0.9, "eval_range": "peers", "eval_at": (0, 100),
             "also": ("grasp the blue object",), "reuse_from": ("runs/x",)}
    if name in other:
        return other[name]
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value / 2
    raise AssertionError(f"no other value for {name}")


def test_identical_run_is_reused() -> None:
    stored = asdict(BASE)
    stored["reuse_from"] = list(stored["reuse_from"])  # as read back from JSON
    assert differences(stored, BASE, IDENT, "grammar", "ab" * 32) == []


@pytest.mark.parametrize("name", [f.name for f in fields(TrainConfig)
                                  if f.name not in NOT_IDENTITY | EXTENDABLE])
def test_any_differing_setting_is_named(name: str) -> None:
    stored_cfg = asdict(BASE)
    asked = asdict(BASE)
    asked[name] = _changed(name, asked[name])
    try:
        cfg = TrainConfig(**asked)
    except ValueError:
        pytest.skip(f"{name}: the changed value is not a valid config on its own")
    diff = differences(stored_cfg, cfg, IDENT, "grammar", "ab" * 32)
    assert len(diff) == 1 and diff[0].startswith(f"{name}: stored "), diff


def test_smoke_run_is_not_the_full_run() -> None:
    smoke = replace(BASE, max_env_steps=300, eval_every=50)
    diff = differences(asdict(smoke), BASE, IDENT, "grammar", "ab" * 32)
    assert [d.split(":")[0] for d in diff] == ["max_env_steps", "eval_every"]


def test_other_detector_or_planner_is_refused() -> None:
    stored = asdict(BASE)
    assert differences(stored, BASE, IDENT, "grammar", "cd" * 32) == [
        f"detector_sha256: stored {'ab' * 32!r}, asked {'cd' * 32!r}"]
    assert differences(stored, BASE, IDENT, "flan-t5", "ab" * 32)[0].startswith("planner:")
    assert differences(stored, BASE, None, "grammar", "ab" * 32) == [
        "planner: stored '<not recorded>', asked 'grammar'",
        f"detector_sha256: stored '<not recorded>', asked {'ab' * 32!r}"]


def test_video_and_path_do_not_matter_and_shorter_min_steps_extends() -> None:
    stored = asdict(replace(BASE, video=False, detector_path="/elsewhere", min_env_steps=100))
    asked = replace(BASE, min_env_steps=3000)
    assert differences(stored, asked, IDENT, "grammar", "ab" * 32) == []
    longer = asdict(replace(BASE, min_env_steps=5000))
    assert differences(longer, asked, IDENT, "grammar", "ab" * 32)[0].startswith("min_env_steps")


def test_unknown_stored_setting_is_named() -> None:
    stored = {**asdict(BASE), "gamma_schedule": "cosine"}
    assert differences(stored, BASE, IDENT, "grammar", "ab" * 32) == [
        "gamma_schedule: stored 'cosine', unknown to this version"]
