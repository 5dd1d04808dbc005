"""Detector API on a tiny random open_clip model: shapes, camera rule, errors, save/load."""
from __future__ import annotations

import json
import time

import numpy as np
import pytest

from perception.captions import CAPTIONS
from perception.detector import Detector, calibrate_gamma, check_frames

TINY_CONFIG = {
    "embed_dim": 16,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 8},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


@pytest.fixture(scope="module")
def tiny_name(tmp_path_factory):
    """Register a tiny open_clip config (random weights are enough for API tests)."""
    import open_clip

    folder = tmp_path_factory.mktemp("configs")
    (folder / "langstack-test-tiny.json").write_text(json.dumps(TINY_CONFIG))
    open_clip.add_model_config(folder)
    return "langstack-test-tiny"


@pytest.fixture(scope="module")
def detector(tiny_name):
    import torch

    from perception.factory import create_model

    torch.manual_seed(0)
    model, spec = create_model(tiny_name)
    return Detector(model, spec, gamma=0.1)


def _frames(n=5, cams=2, size=128, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, cams, size, size, 3), dtype=np.uint8)


def test_embeddings_are_normalised_per_camera(detector):
    emb = detector.image_embeddings(_frames())
    assert emb.shape == (5, 2, 16) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=-1), 1.0, atol=1e-5)
    txt = detector.text_embeddings(CAPTIONS[:4])
    assert txt.shape == (4, 16)
    np.testing.assert_allclose(np.linalg.norm(txt, axis=-1), 1.0, atol=1e-5)


def test_scores_are_the_mean_of_the_camera_cosines(detector):
    frames = _frames()
    scores = detector.scores(frames, CAPTIONS)
    assert scores.shape == (5, 9)
    emb = detector.image_embeddings(frames)
    per_view = np.einsum("nce,ke->nck", emb, detector.text_embeddings(CAPTIONS))
    np.testing.assert_allclose(scores, per_view.mean(axis=1), atol=1e-5)
    np.testing.assert_allclose(detector.scores_from_embeddings(emb, CAPTIONS), scores, atol=1e-6)
    # one camera alone, (N, H, W, 3), is scored with that camera
    np.testing.assert_allclose(detector.scores(frames[:, 0], CAPTIONS), per_view[:, 0], atol=1e-5)


def test_batching_does_not_change_scores(detector):
    frames = _frames(n=7)
    full = detector.scores(frames, CAPTIONS)
    detector.batch_size = 3
    try:
        np.testing.assert_allclose(detector.scores(frames, CAPTIONS), full, atol=1e-5)
    finally:
        detector.batch_size = 256


def test_detect_thresholds_at_gamma(detector):
    frames = _frames()
    scores = detector.scores(frames, CAPTIONS)
    detector.gamma = float(np.median(scores))
    found = detector.detect(frames)
    assert len(found) == 5
    for row, hits in zip(scores, found):
        assert hits == {c for c, s in zip(CAPTIONS, row) if s >= detector.gamma}


@pytest.mark.parametrize("bad, message", [
    (np.zeros((2, 2, 128, 128, 3), np.float32), "uint8"),
    (np.zeros((2, 128, 128), np.uint8), "shape"),
    (np.zeros((2, 2, 3, 128, 128), np.uint8), "channels last"),
    (np.zeros((2, 2, 8, 8, 3), np.uint8), "too small"),
    ([[0, 1, 2]], "numpy uint8 array"),
])
def test_bad_frames_give_clear_errors(detector, bad, message):
    with pytest.raises(ValueError, match=message):
        detector.scores(bad, CAPTIONS)
    with pytest.raises(ValueError, match=message):
        check_frames(bad)


def test_unknown_captions_give_clear_errors(detector):
    with pytest.raises(ValueError, match="unknown caption 'the robot is dancing'"):
        detector.scores(_frames(n=1), ["the robot is dancing"])
    with pytest.raises(ValueError, match="unknown caption"):
        detector.text_embeddings(["the purple object is on top of the blue object"])
    with pytest.raises(ValueError, match="single string"):
        detector.text_embeddings(CAPTIONS[0])
    with pytest.raises(ValueError, match=r"\(N, n_cams, 16\)"):
        detector.scores_from_embeddings(np.zeros((3, 2, 7), np.float32), CAPTIONS)


def test_save_load_round_trip_is_fast_and_exact(detector, tmp_path):
    frames = _frames()
    detector.gamma = 0.123
    detector.save(tmp_path / "det", extra={"train_pairs": 42})
    t0 = time.perf_counter()
    loaded = Detector.load(tmp_path / "det")
    assert time.perf_counter() - t0 < 2.0
    assert loaded.gamma == pytest.approx(0.123)
    assert loaded.meta["train_pairs"] == 42
    np.testing.assert_allclose(loaded.scores(frames, CAPTIONS), detector.scores(frames, CAPTIONS),
                               atol=1e-6)
    np.testing.assert_allclose(loaded.text_embeddings(CAPTIONS),
                               detector.text_embeddings(CAPTIONS), atol=1e-6)


def test_checkpoint_carries_its_model_config(detector, tmp_path, monkeypatch):
    """A checkpoint of a model open_clip does not know (another process) still loads."""
    import open_clip.factory as factory

    from perception.loader import CACHE_ENV

    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    detector.save(tmp_path / "det")
    monkeypatch.delitem(factory._MODEL_CONFIGS, detector.spec.name)
    monkeypatch.setattr(factory, "_MODEL_CONFIG_PATHS", list(factory._MODEL_CONFIG_PATHS))
    loaded = Detector.load(tmp_path / "det")
    assert loaded.spec.name == detector.spec.name
    # the config is written into the user cache, nowhere else
    assert (tmp_path / "cache" / "clip-configs" / f"{detector.spec.name}.json").is_file()


def test_checkpoint_with_a_path_as_model_name_is_refused(detector, tmp_path, monkeypatch):
    import json

    from perception.loader import CACHE_ENV

    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    detector.save(tmp_path / "det")
    cfg_path = tmp_path / "det" / "detector.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["model_name"] = "../../escape"
    cfg_path.write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match="invalid model config"):
        Detector.load(tmp_path / "det")


def test_load_rejects_missing_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match="no detector"):
        Detector.load(tmp_path)


def test_calibrate_gamma_is_the_smallest_threshold_reaching_the_precision():
    scores = np.array([[0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3]])
    labels = np.array([[1, 1, 1, 0, 1, 0, 0]], bool)
    cal = calibrate_gamma(scores, labels, target_precision=0.99)
    assert cal["gamma"] == pytest.approx(0.7)  # top 3 are all positives; adding 0.6 breaks it
    assert cal["precision"] == 1.0 and cal["recall"] == pytest.approx(0.75)
    cal = calibrate_gamma(scores, labels, target_precision=0.75)
    assert cal["gamma"] == pytest.approx(0.5)  # 4 of the top 5
    # unreachable target: the threshold of best precision (the larger one on ties)
    cal = calibrate_gamma(np.array([[0.9, 0.8]]), np.array([[0, 1]], bool), 0.99)
    assert cal["gamma"] == pytest.approx(0.8) and cal["precision"] == 0.5


def test_calibrating_on_the_precisions_lower_bound_asks_for_more_evidence():
    """With ``bound``, a threshold counts only if the Wilson 95% lower bound of its precision
    reaches the target: one lucky stretch of positives on few frames is not enough."""
    from perception.stats import wilson

    rng = np.random.default_rng(0)
    labels = rng.random((400, 9)) < 0.3
    scores = labels * 0.3 + rng.normal(0, 0.1, labels.shape)  # overlapping classes
    point = calibrate_gamma(scores, labels, 0.97)
    bounded = calibrate_gamma(scores, labels, 0.97, bound=True)
    assert bounded["gamma"] > point["gamma"] and bounded["recall"] < point["recall"]
    assert point["rule"] == "point" and bounded["rule"] == "Wilson 95% lower bound"
    hits = scores >= bounded["gamma"]
    tp, n = int((hits & labels).sum()), int(hits.sum())
    assert wilson(tp, n)[0] >= 0.97 and tp / n == pytest.approx(bounded["precision"])
    lower = scores >= np.sort(scores[scores < bounded["gamma"]])[-1]  # the next threshold down
    assert wilson(int((lower & labels).sum()), int(lower.sum()))[0] < 0.97
