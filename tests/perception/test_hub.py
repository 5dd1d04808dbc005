"""Pretrained CLIP weights downloaded from a hub on first use (``--clip``), and the fast
fallback without one.

The hub is a stand-in served on loopback by a real HTTP server (``tests.hub_standin``) with a
tiny open_clip model built here (``open_clip_config.json`` + ``open_clip_model.safetensors``,
the layout of open_clip models on the Hugging Face hub). The project's code runs in
subprocesses with ``HF_ENDPOINT`` pointed at it, ``HF_HUB_OFFLINE`` unset and every cache in
``tmp_path``, so open_clip / huggingface_hub download through their own code.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from experiments.cli import main
from tests.hub_standin import SilentServer, StandInHub, hub_env
from tests.perception.test_detector import TINY_CONFIG

REPO = "langstack-test/tiny-clip"
CLIP = f"hf-hub:{REPO}"
PREPROCESS = {"mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, torch.Tensor]]:
    """A tiny open_clip model saved as a hub repo folder, and its weights."""
    import open_clip
    from safetensors.torch import save_file

    root = tmp_path_factory.mktemp("tiny_clip")
    (root / "lt-hub-tiny.json").write_text(json.dumps(TINY_CONFIG))
    open_clip.add_model_config(root / "lt-hub-tiny.json")
    torch.manual_seed(7)
    state = {k: v.contiguous() for k, v in open_clip.create_model("lt-hub-tiny").state_dict().items()}
    repo = root / "repo"
    repo.mkdir()
    save_file(state, str(repo / "open_clip_model.safetensors"))
    (repo / "open_clip_config.json").write_text(json.dumps({"model_cfg": TINY_CONFIG,
                                                             "preprocess_cfg": PREPROCESS}))
    return repo, state


@pytest.fixture()
def hub(served):
    server = StandInHub({REPO: served[0]})
    yield server
    server.close()


def _env(endpoint: str, tmp_path: Path) -> dict[str, str]:
    env = hub_env(dict(os.environ), endpoint, tmp_path / "hf")
    env["LANGSTACK_CACHE_DIR"] = str(tmp_path / "cache")
    env.pop("LANGSTACK_CLIP_MODEL", None)
    env.pop("LANGSTACK_CLIP_PRETRAINED", None)
    return env


def _python(code: str, env: dict[str, str]) -> tuple[subprocess.CompletedProcess, float]:
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env,
                          capture_output=True, text=True, timeout=120)
    return done, time.perf_counter() - t0


def test_clip_is_downloaded_and_the_detector_is_built_from_it(served, hub, tmp_path,
                                                              monkeypatch) -> None:
    """``langstack perception train --clip hf-hub:ORG/REPO``: download, fine-tune, save."""
    from perception.detector import Detector

    repo, state = served
    out = tmp_path / "det"
    done = subprocess.run(
        [sys.executable, "-m", "experiments.cli", "perception", "train", "--clip", CLIP,
         "--train-pairs", "4", "--val-pairs", "4", "--epochs", "1", "--out", str(out),
         "--quiet", "--json"], env=_env(hub.url, tmp_path), capture_output=True, text=True,
        timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"detector: downloading {CLIP} from {hub.url}" in done.stderr
    assert sorted(p.rsplit("/", 1)[-1] for p in hub.downloads()) == [
        "open_clip_config.json", "open_clip_model.safetensors"]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    snapshot = next((tmp_path / "hf" / "hub").glob("models--langstack-test--tiny-clip/snapshots/*"))
    weights = snapshot / "open_clip_model.safetensors"
    assert result["model"] == CLIP and result["weights"] == f"{CLIP}@{weights}"
    assert weights.read_bytes() == (repo / "open_clip_model.safetensors").read_bytes()

    monkeypatch.setenv("LANGSTACK_CACHE_DIR", str(tmp_path / "cache"))  # configs register there
    det = Detector.load(out)
    assert det.spec.mean == tuple(PREPROCESS["mean"]) and det.spec.std == tuple(PREPROCESS["std"])
    tuned = det.model.state_dict()
    key = "text_projection"  # fine-tuned briefly from the served weights, not from scratch
    assert (tuned[key] - state[key]).abs().max() < 0.05 * state[key].abs().max()
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (3, 2, 64, 64, 3), dtype=np.uint8)
    scores = det.scores(frames, ["the robot is grasping the red object"])
    assert scores.shape == (3, 1) and np.isfinite(scores).all()


def test_model_tag_form_downloads_through_open_clip(served, hub, tmp_path) -> None:
    """``--clip MODEL:TAG`` (what the CLI calls): an open_clip tag whose weights live on the
    hub is fetched, then named to the default detector through $LANGSTACK_CLIP_PRETRAINED."""
    repo, _ = served
    code = f"""
        import json, open_clip
        from open_clip.pretrained import _PRETRAINED, _pcfg
        open_clip.add_model_config({str(repo.parent / "lt-hub-tiny.json")!r})
        _PRETRAINED["lt-hub-tiny"] = {{"standin": _pcfg(hf_hub="{REPO}/", **{PREPROCESS!r})}}
        import os
        from experiments.cli.hub import use_clip
        from perception.factory import create_model, find_pretrained
        found = use_clip("lt-hub-tiny:standin")
        model, spec = create_model(*find_pretrained())  # no download: from the cache now
        print(json.dumps({{"found": found, "env": os.environ["LANGSTACK_CLIP_PRETRAINED"],
                          "source": spec.source}}))
    """
    done, _ = _python(code, _env(hub.url, tmp_path))
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["found"] == ["lt-hub-tiny", "standin"] and got["env"] == "lt-hub-tiny:standin"
    assert got["source"].startswith("standin@") and got["source"].endswith(
        "open_clip_model.safetensors")
    assert f"detector: downloading lt-hub-tiny:standin from {hub.url}" in done.stderr
    assert [p.rsplit("/", 1)[-1] for p in hub.downloads()] == ["open_clip_model.safetensors"]


FALLBACK = """
    import os, time
    import open_clip  # torch and open_clip load first: the clock is the fallback's own
    from experiments.cli.hub import use_clip
    t0 = time.perf_counter()
    found = use_clip("hf-hub:langstack-test/tiny-clip")
    print(found, os.environ.get("LANGSTACK_CLIP_PRETRAINED"), round(time.perf_counter() - t0, 2))
"""


def test_unanswering_hub_falls_back_within_seconds(tmp_path) -> None:
    silent = SilentServer()  # accepts the connection, never answers
    try:
        env = _env(silent.url, tmp_path)
        env["LANGSTACK_CLIP_PRETRAINED"] = "ViT-B-32:openai"  # --clip overrides it
        done, _ = _python(FALLBACK, env)
    finally:
        silent.close()
    assert done.returncode == 0, done.stderr
    found, named, seconds = done.stdout.split()
    assert found == "None" and named == "None"  # the default detector: the fallback named
    line = next(s for s in done.stderr.splitlines() if s.startswith("detector:"))
    assert f"the hub at {silent.url} is unreachable (no answer within 3 s)" in line
    assert "using the embedded default (langstack-rn-tiny" in line
    assert "run once with internet" in line and f"hf download {REPO}" in line
    assert float(seconds) < 10.0  # the 3 s probe, not the libraries' network timeouts


def test_offline_never_asks_the_hub(hub, capsys, monkeypatch) -> None:
    """In this process (downloads off: tests/perception/conftest.py), the hub is never asked."""
    from experiments.cli.hub import use_clip

    monkeypatch.setenv("HF_ENDPOINT", hub.url)  # perception.hub reads it at call time
    monkeypatch.setenv("LANGSTACK_CLIP_PRETRAINED", "ViT-B-32:openai")
    assert use_clip(CLIP) is None
    assert "LANGSTACK_CLIP_PRETRAINED" not in os.environ
    err = capsys.readouterr().err
    assert "downloads are off (--offline or HF_HUB_OFFLINE=1)" in err
    assert "without --offline and with HF_HUB_OFFLINE unset" in err
    assert hub.requests == []


@pytest.mark.parametrize("argv, message", [
    (["perception", "train", "--clip", "ViT-B-32"], "--clip='ViT-B-32' is not MODEL:TAG"),
    (["perception", "train", "--clip", "ViT-B-32:nope"], "'nope' is not a pretrained tag of ViT-B-32"),
    (["perception", "train", "--clip", "hf-hub:a/b/c"], "the repo must be ORG/REPO"),
    (["perception", "train", "--clip", CLIP, "--model", "ViT-B-32"], "leave out --model"),
    (["perception", "eval", "--clip", CLIP, "--detector", "x"], "not to --detector DIR"),
    (["train", "--task", "grasp the red object", "--clip", CLIP, "--detector", "oracle"],
     "not to --detector oracle"),
    (["imitate", "v.mp4", "--plan-only", "--clip", CLIP, "--detector", "x"],
     "not to a --detector directory"),
    (["imitate", "v.mp4", "--plan-only", "--clip", CLIP, "--detector", "reader"],
     "not to the video reader"),
])
def test_bad_clip_values_are_refused_before_any_work(argv, message, capsys, monkeypatch,
                                                     tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
