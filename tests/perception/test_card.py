"""Detector model cards: a real (tiny) build writes one whose figures are the saved counts."""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from perception import factory, loader
from perception.captions import CAPTIONS
from perception.card import CARD_FILE, ensure_detector_card
from perception.dataset import GenConfig
from perception.stats import wilson
from sim.seeds import PERCEPTION
from tests.experiments.conftest import REPO
from tests.experiments.test_card import card_commands
from tests.perception.test_detector import TINY_CONFIG

MODEL = "langstack-test-card"
RATE = re.compile(r"([\d.]+|n/a) \((\d+)/(\d+)(?:; 95% Wilson \[([\d.]+), ([\d.]+)\])?\)")


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A user cache of its own, and the tiny model's open_clip config registered."""
    import open_clip

    root = tmp_path_factory.mktemp("cache")
    folder = tmp_path_factory.mktemp("configs")
    (folder / f"{MODEL}.json").write_text(json.dumps(TINY_CONFIG))
    open_clip.add_model_config(folder / f"{MODEL}.json")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(loader.CACHE_ENV, str(root))
        yield root


@pytest.fixture(scope="module")
def built(cache):
    """A detector built by the real recipe on few frames, a few steps."""
    from perception.train import DetectorTrainConfig

    train = DetectorTrainConfig(epochs=2, batch_size=8, warmup_steps=2, lr=1e-3, seed=3)
    cfg = loader.BuildConfig(model=MODEL, train_pairs=30, val_pairs=40, workers=2, train=train)
    out = cache / "built"
    loader.build_detector(out, cfg, progress=False, say=lambda _: None)
    return out, cfg


def _rate(text: str, label: str) -> tuple[str, ...]:
    """The fields of the card line ``- <label>: 0.xxx (k/n; 95% Wilson [lo, hi])``."""
    line = next(ln for ln in text.splitlines() if ln.startswith(f"- {label}: "))
    return RATE.search(line).groups()


def _check_rate(fields: tuple[str, ...], k: int, n: int) -> None:
    """The card's rate, counts and interval are k/n and its Wilson interval."""
    rate, k_card, n_card, lo, hi = fields
    assert (int(k_card), int(n_card)) == (k, n)
    if n == 0:
        assert rate == "n/a" and lo is None
        return
    assert float(rate) == pytest.approx(k / n, abs=5e-4)
    assert (float(lo), float(hi)) == pytest.approx(wilson(k, n), abs=5e-4)


def test_build_writes_a_card_with_the_recipe_and_the_measured_rates(built):
    out, cfg = built
    text = (out / CARD_FILE).read_text()
    saved = json.loads((out / "detector.json").read_text())
    val, cal = saved["validation"], saved["calibration"]
    ov = val["overall"]
    # the counts measured at build reproduce the calibration's precision and recall
    assert val["frames"] == cfg.val_pairs and val["split"] == cfg.val_split
    assert ov["tp"] / max(1, ov["tp"] + ov["fp"]) == pytest.approx(cal["precision"], abs=1e-9)
    assert ov["tp"] / max(1, ov["tp"] + ov["fn"]) == pytest.approx(cal["recall"], abs=1e-9)
    _check_rate(_rate(text, "Precision"), ov["tp"], ov["tp"] + ov["fp"])
    _check_rate(_rate(text, "Recall"), ov["tp"], ov["tp"] + ov["fn"])
    for caption in CAPTIONS:
        row = next(ln for ln in text.splitlines() if ln.startswith(f"| {caption} |"))
        c = val["per_caption"][caption]
        precision, recall = (m.groups() for m in RATE.finditer(row))
        _check_rate(precision, c["tp"], c["tp"] + c["fp"])
        _check_rate(recall, c["tp"], c["tp"] + c["fn"])
    # the recipe, the frame splits with their scene seeds, and the weights' identity
    for role, split, n in (("train", cfg.train_split, cfg.train_pairs),
                           ("val", cfg.val_split, cfg.val_pairs)):
        gen = GenConfig(split=split, n_frames=n, seed=cfg.data_seed,
                        plain_arm_every=cfg.plain_arm_every if role == "train" else 0)
        first, last = PERCEPTION[split].seed(0, 0), PERCEPTION[split].seed(0, gen.n_episodes - 1)
        assert f"{n} pairs of split `{split}` from {gen.n_episodes} episodes, scene seeds " \
               f"{first}..{last}" in text
    for setting in ("epochs=2", "batch_size=8", "lr=0.001", "seed=3", "warmup_steps=2"):
        assert setting in text
    assert f"gamma = {saved['gamma']:.4f}" in text and f">= {cal['target_precision']}" in text
    # each threshold is calibrated on frames of the view it judges: the agent's Panda as
    # rendered (gamma), other arms for the video reader (video_gamma)
    assert cfg.val_split == "val" and cfg.video_val_split == "arm-colors-val"
    video = saved["video_calibration"]
    assert video["split"] == cfg.video_val_split and video["pairs"] == cfg.val_pairs
    assert video["target_precision"] == cal["target_precision"]
    assert f"video_gamma = {video['gamma']:.4f}" in text
    assert f"pairs of split `{cfg.video_val_split}`" in text
    from perception.detector import Detector

    assert Detector.load(out).video_gamma == pytest.approx(video["gamma"])
    digest = hashlib.sha256((out / "model.safetensors").read_bytes()).hexdigest()
    assert f"sha256 `{digest}`" in text and "in-sample" in text


def test_the_cards_commands_are_langstack_commands(built):
    out, _ = built
    evaluate, train = card_commands((out / CARD_FILE).read_text())
    assert (evaluate.command, evaluate.perception_command) == ("perception", "eval")
    assert evaluate.detector == str(out)
    assert (train.command, train.detector_path) == ("train", out)
    assert train.task == "stack the red object on top of the blue object"


def test_the_cards_python_snippet_loads_the_detector(built, cache):
    out, _ = built
    text = (out / CARD_FILE).read_text()
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    env = {**os.environ, loader.CACHE_ENV: str(cache)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=REPO, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    gamma = json.loads((out / "detector.json").read_text())["gamma"]
    printed = proc.stdout.strip().split(" ", 1)
    assert float(printed[0]) == pytest.approx(gamma) and printed[1].startswith("[")
    assert f"detector: {MODEL}" in proc.stderr  # the loader said which detector it loaded


@pytest.fixture
def default_home(cache, monkeypatch):
    """No pretrained weights here: the default detector lives at the embedded default's dir."""
    monkeypatch.setattr(factory, "find_pretrained", lambda: None)
    target = loader.default_detector_dir()
    yield target
    if target.is_symlink() or target.is_file():
        target.unlink()
    elif target.exists():
        shutil.rmtree(target)


def _as_built_before_cards(src, dst) -> None:
    """Copy a detector without its card and its build-time counts (an older build)."""
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(CARD_FILE))
    config = json.loads((dst / "detector.json").read_text())
    del config["validation"]
    (dst / "detector.json").write_text(json.dumps(config))


def test_an_older_cached_detector_gets_its_card_on_load(built, default_home):
    out, cfg = built
    _as_built_before_cards(out, default_home)
    assert loader.ensure_default_detector(build_if_missing=False) == default_home
    text = (default_home / CARD_FILE).read_text()
    ov = json.loads((out / "detector.json").read_text())["validation"]["overall"]
    # measured again on the cached validation split: the build's own counts
    _check_rate(_rate(text, "Precision"), ov["tp"], ov["tp"] + ov["fp"])
    _check_rate(_rate(text, "Recall"), ov["tp"], ov["tp"] + ov["fn"])
    assert "when this card was written" in text


def test_without_counts_or_split_the_card_gives_no_interval(built, cache, default_home):
    out, _ = built
    _as_built_before_cards(out, default_home)
    shutil.move(str(loader.data_root()), str(cache / "moved-data"))  # the split is gone
    try:
        ensure_detector_card(default_home)
    finally:
        shutil.move(str(cache / "moved-data"), str(loader.data_root()))
    text = (default_home / CARD_FILE).read_text()
    cal = json.loads((out / "detector.json").read_text())["calibration"]
    assert f"precision {cal['precision']:.4f}" in text and "no interval can be given" in text
    assert "Wilson" not in text


def test_no_card_is_written_outside_the_cache(built, default_home, tmp_path):
    out, _ = built
    mine = tmp_path / "my-detector"
    _as_built_before_cards(out, mine)
    default_home.parent.mkdir(parents=True, exist_ok=True)
    default_home.symlink_to(mine, target_is_directory=True)  # the cache points at it
    loader.ensure_default_detector(build_if_missing=False)
    loader.load_detector(mine, say=lambda _: None)
    assert ensure_detector_card(mine) is None
    assert not (mine / CARD_FILE).exists()
