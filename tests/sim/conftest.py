"""Shared fixtures for the sim tests (all headless: DIRECT + TinyRenderer)."""
from __future__ import annotations

import pytest

import sim


@pytest.fixture
def triple_env():
    env = sim.make_env("stack all three objects")
    yield env
    env.close()
