"""Model factory and loader: pretrained weights from a file, offline fallback, default cache."""
from __future__ import annotations

import json
import time

import numpy as np
import pytest
import torch

from perception import factory, loader
from perception.captions import CAPTIONS
from perception.detector import Detector
from tests.perception.test_detector import TINY_CONFIG


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny random open_clip model registered as a config and saved as a checkpoint file."""
    import open_clip
    from safetensors.torch import save_file

    folder = tmp_path_factory.mktemp("pretrained")
    (folder / "langstack-test-pre.json").write_text(json.dumps(TINY_CONFIG))
    open_clip.add_model_config(folder / "langstack-test-pre.json")
    torch.manual_seed(123)
    model = open_clip.create_model("langstack-test-pre")
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(folder / "weights.safetensors"))
    torch.save(state, folder / "weights.pt")
    return "langstack-test-pre", folder, state


@pytest.mark.parametrize("filename", ["weights.safetensors", "weights.pt"])
def test_pretrained_file_is_loaded(tiny, filename):
    name, folder, state = tiny
    model, spec = factory.create_model(name, pretrained=str(folder / filename))
    assert spec.source == str(folder / filename) and spec.image_size == 32
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, state[key])
    scratch, spec0 = factory.create_model(name)
    assert spec0.source == "scratch"
    assert not torch.equal(scratch.state_dict()["text_projection"], state["text_projection"])


def test_missing_tag_fails_fast_without_network(tmp_path):
    t0 = time.perf_counter()
    with pytest.raises(factory.PretrainedWeightsMissing, match="not in the local open_clip cache"):
        factory.resolve_pretrained("ViT-B-32", "laion2b_s34b_b79k", cache_dir=str(tmp_path))
    assert time.perf_counter() - t0 < 5.0
    with pytest.raises(factory.PretrainedWeightsMissing, match="neither a file nor a known"):
        factory.create_model("ViT-B-32", pretrained="no-such-tag")
    with pytest.raises(ValueError, match="unknown open_clip model"):
        factory.create_model("no-such-model")


def test_find_pretrained_uses_env_then_cache(tiny, tmp_path, monkeypatch):
    name, folder, _ = tiny
    monkeypatch.delenv("LANGSTACK_CLIP_MODEL", raising=False)
    monkeypatch.delenv("LANGSTACK_CLIP_PRETRAINED", raising=False)
    assert factory.find_pretrained(cache_dir=str(tmp_path)) is None  # cold cache: fall back
    monkeypatch.setenv("LANGSTACK_CLIP_MODEL", name)
    monkeypatch.setenv("LANGSTACK_CLIP_PRETRAINED", str(folder / "weights.safetensors"))
    assert factory.find_pretrained(cache_dir=str(tmp_path)) == (name, str(folder / "weights.safetensors"))


def test_fine_tuning_pretrained_weights_trains_and_saves(tiny, tmp_path):
    """The pretrained path end to end on synthetic frames: load, fine-tune, calibrate, save."""
    from perception.dataset import FrameSet
    from perception.train import DetectorTrainConfig, train_detector

    name, folder, state = tiny
    model, spec = factory.create_model(name, pretrained=str(folder / "weights.safetensors"))
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (24, 2, 64, 64, 3), dtype=np.uint8)
    labels = rng.random((24, 9)) < 0.2
    data = FrameSet(frames, labels, [{"kind": "synthetic"}] * 24, {})
    det = train_detector(model, spec, data, data,
                         DetectorTrainConfig(epochs=2, batch_size=8, warmup_steps=2),
                         progress=False)
    assert det.meta["train_pairs"] == 24 and det.meta["train"]["steps"] == 6
    assert not torch.equal(det.model.state_dict()["text_projection"], state["text_projection"])
    det.save(tmp_path / "ft")
    again = Detector.load(tmp_path / "ft")
    assert again.spec.source == str(folder / "weights.safetensors")
    np.testing.assert_allclose(again.scores(frames, CAPTIONS), det.scores(frames, CAPTIONS), atol=1e-5)


def test_load_detector_default_is_cached_and_announced_once(tiny, tmp_path, monkeypatch):
    name, _, _ = tiny
    monkeypatch.setenv(loader.CACHE_ENV, str(tmp_path))
    monkeypatch.delenv("LANGSTACK_CLIP_MODEL", raising=False)
    monkeypatch.setattr(factory, "DEFAULT_PRETRAINED", ())
    monkeypatch.setattr(loader, "_announced", set())
    with pytest.raises(FileNotFoundError, match="perception train"):
        loader.load_detector(build_if_missing=False)
    # pretend the default was built: save a (tiny) detector where the default lives
    model, spec = factory.create_model(name)
    Detector(model, spec, gamma=0.5).save(loader.default_detector_dir())
    said: list[str] = []
    det = loader.load_detector(say=said.append)
    det2 = loader.load_detector(say=said.append)
    assert det.gamma == det2.gamma == 0.5
    assert len(said) == 1 and "embedded default" in said[0] and str(tmp_path) in said[0]


def test_load_detector_with_missing_path_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match="no detector"):
        loader.load_detector(tmp_path / "nothing")
