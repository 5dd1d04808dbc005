"""FLAN-T5 weights downloaded from a hub on first use, and the fast fallback without one.

The hub is a stand-in served on loopback by a real HTTP server (``tests.hub_standin``) with a
tiny T5 built here; the real ``langstack plan`` runs in a subprocess with ``HF_ENDPOINT``
pointed at it, ``HF_HUB_OFFLINE`` unset and the Hugging Face cache in ``tmp_path``, so that
transformers / huggingface_hub download through their own code.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.hub_standin import SilentServer, StandInHub, hub_env

pytest.importorskip("transformers")
torch = pytest.importorskip("torch")

REPO = "langstack-test/tiny-t5"
INSTRUCTION = "put the green block on the red block"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory):
    """The stand-in hub serving a tiny T5 trained to plan INSTRUCTION."""
    from tests.planner.test_flan_t5 import _tiny_t5

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        folder = _tiny_t5(tmp_path_factory.mktemp("tiny_t5_repo"), train_steps=400)
    finally:
        torch.set_num_threads(threads)
    server = StandInHub({REPO: folder})
    yield server
    server.close()


def _plan(env: dict[str, str], *flags: str) -> tuple[subprocess.CompletedProcess, float]:
    """The real CLI: ``langstack plan FLAGS INSTRUCTION --json`` and its wall time."""
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "experiments.cli", "plan", *flags, INSTRUCTION,
                           "--json"], env=env, capture_output=True, text=True, timeout=120)
    return done, time.perf_counter() - t0


def test_flan_t5_is_downloaded_on_first_use_then_read_from_the_cache(hub, tmp_path) -> None:
    home = tmp_path / "hf"
    env = hub_env(dict(os.environ), hub.url, home)
    done, _ = _plan(env, "--planner", "flan-t5", "--model", REPO)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["planner"] == "flan-t5"
    assert result["subgoals"] == ["the robot is grasping the green object",
                                  "the green object is on top of the red object"]
    assert f"planner: downloading {REPO} from {hub.url}" in done.stderr
    fetched = {p.rsplit("/", 1)[-1] for p in hub.downloads()}
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= fetched
    snapshot = next((home / "hub").glob("models--langstack-test--tiny-t5/snapshots/*"))
    served = Path(hub.repos[REPO])
    assert (snapshot / "model.safetensors").read_bytes() == (served / "model.safetensors").read_bytes()

    # second run: the hub is gone (a port nobody listens on); the cache alone serves auto
    gone = SilentServer()
    gone.close()
    before = len(hub.requests)
    done, _ = _plan(hub_env(dict(os.environ), gone.url, home), "--model", REPO)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1])["planner"] == "flan-t5"
    assert f"planner: flan-t5 ({REPO})" in done.stderr and "downloading" not in done.stderr
    assert len(hub.requests) == before


def test_offline_flag_never_asks_the_hub(hub, tmp_path) -> None:
    env = hub_env(dict(os.environ), hub.url, tmp_path / "hf")
    before = len(hub.requests)
    done, _ = _plan(env, "--offline", "--planner", "flan-t5", "--model", REPO)
    assert done.returncode == 2
    assert "downloads are off (--offline or HF_HUB_OFFLINE=1)" in done.stderr
    assert "without --offline and with HF_HUB_OFFLINE unset" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1  # one line, no traceback
    done, _ = _plan({**env, "HF_HUB_OFFLINE": "1"}, "--model", REPO)  # auto: grammar
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1])["planner"] == "grammar"
    assert "planner: grammar (no FLAN-T5 weights found offline" in done.stderr
    assert len(hub.requests) == before


def test_unanswering_hub_falls_back_to_grammar_within_seconds(tmp_path) -> None:
    silent = SilentServer()  # accepts the connection, never answers
    try:
        env = hub_env(dict(os.environ), silent.url, tmp_path / "hf")
        done, seconds = _plan(env, "--model", REPO)
    finally:
        silent.close()
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1])["planner"] == "grammar"
    line = next(s for s in done.stderr.splitlines() if s.startswith("planner:"))
    assert f"planner: grammar (no FLAN-T5 weights found offline for {REPO})" in line
    assert f"the hub at {silent.url} is unreachable (no answer within 3 s)" in line
    assert "run once with internet" in line and f"hf download {REPO}" in line
    assert seconds < 10.0
