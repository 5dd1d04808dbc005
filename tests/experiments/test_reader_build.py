"""The video reader's build end to end, short: styled frames -> localiser (points and cube
geometry) + crop scorer -> a saved reader that loads and reads frames."""
from __future__ import annotations

import json
from dataclasses import replace

import numpy as np


def test_a_short_reader_build_saves_a_reader_that_loads_and_reads(tmp_path, monkeypatch) -> None:
    from experiments.imitation.reader_build import (
        ReaderBuildConfig, build_reader, load_styled, styled_split,
    )
    from perception.localise import LocaliserTrainConfig
    from perception.reader import READER_FILE, VideoReader

    monkeypatch.setenv("LANGSTACK_CACHE_DIR", str(tmp_path / "cache"))  # frames stay here
    base = ReaderBuildConfig()
    cfg = replace(base, train_frames=24, val_frames=12, workers=1,
                  train=replace(base.train, epochs=1, warmup_steps=1),
                  localiser=LocaliserTrainConfig(epochs=1, width=8, channel_gain=0.15))
    said: list[str] = []
    build_reader(tmp_path / "reader", cfg, progress=False, say=said.append)
    assert any("built in" in m for m in said)
    build = json.loads((tmp_path / "reader" / READER_FILE).read_text())["build"]
    assert set(build["localiser"]["val_geometry_error"]) == {"side_rel_median", "up_rel_median"}
    assert build["recipe"]["localiser"]["channel_gain"] == 0.15
    assert "workers" not in build["recipe"]

    reader = VideoReader.load(tmp_path / "reader")
    cached = styled_split(cfg.styled("val"), workers=1, progress=False)  # the build's own
    assert cached.is_relative_to(tmp_path / "cache")
    whole, points, geometry, crops = load_styled(cached)
    assert points.shape == (12, 3, 2) and geometry.shape == (12, 3, 4) and len(crops.frames) == 12
    scores, evidence = reader.read(whole.frames[:6])
    assert scores.shape == evidence.shape == (6, 9)
    assert np.isfinite(scores).all() and np.isfinite(evidence).all()
