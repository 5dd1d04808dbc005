"""Helpers for CLI tests: run ``langstack`` as a user would, in a subprocess."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def langstack(*args: str, cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the CLI; returns the completed process (text stdout/stderr)."""
    return subprocess.run([sys.executable, "-m", "experiments.cli", *args], capture_output=True,
                          text=True, cwd=cwd or REPO, timeout=timeout)


def last_json(proc: subprocess.CompletedProcess) -> dict:
    """The JSON object on the last line of stdout."""
    return json.loads(proc.stdout.strip().splitlines()[-1])


def assert_clean_usage_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    """Exit 2, one stderr line naming the problem, no traceback."""
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture
def cli():
    return langstack
