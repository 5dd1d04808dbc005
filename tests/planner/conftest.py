"""Planner tests never reach the real Hugging Face hub: downloads are off in this process
(``HF_HUB_OFFLINE=1``, read by the planner at call time). The download tests run their
subprocesses against a stand-in hub with the variable removed (``tests.hub_standin``)."""
from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_real_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
