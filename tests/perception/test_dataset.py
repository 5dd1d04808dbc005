"""In-domain dataset generation from the simulator: content, captions, determinism, splits."""
from __future__ import annotations

import json

import numpy as np
import pytest

from perception.captions import CAPTIONS
from sim.seeds import PERCEPTION
from perception.dataset import (FRAMES_FILE, MANIFEST_FILE, GenConfig,
                                ensure_split, generate, is_generated, load_split)

SMALL = dict(n_frames=11, steps_per_episode=3, motion_every=2)


@pytest.fixture(scope="module")
def small_split(tmp_path_factory):
    cfg = GenConfig(split="train", **SMALL)
    path = generate(tmp_path_factory.mktemp("train"), cfg, workers=1, progress=False)
    return cfg, path, load_split(path)


def test_split_has_frames_labels_and_manifest(small_split):
    cfg, path, fs = small_split
    assert len(fs) == 11 and cfg.n_episodes == 2
    assert [cfg.frames_in_episode(e) for e in range(2)] == [7, 4]  # with / without mid-motion
    assert fs.frames.shape == (11, 2, 128, 128, 3) and fs.frames.dtype == np.uint8
    assert fs.labels.shape == (11, 9) and fs.labels.dtype == bool
    manifest = json.loads((path / MANIFEST_FILE).read_text())
    assert manifest["captions"] == list(CAPTIONS) and manifest["n_frames"] == 11
    for rec, row in zip(fs.records, fs.labels):
        assert rec["captions"] == [c for c, y in zip(CAPTIONS, row) if y]
        assert rec["seed"] in (cfg.episode_seed(0), cfg.episode_seed(1))
    kinds = [r["kind"] for r in fs.records]
    assert kinds[:1] == ["reset"] and kinds.count("reset") == 2
    assert {"pick", "mid-pick"} <= set(kinds[:7]) and not any("mid" in k for k in kinds[7:])
    assert not fs.labels[[i for i, k in enumerate(kinds) if k == "reset"]].any()  # scattered
    assert fs.labels[:, :3].any(), "the purposeful actor picks a cube within three steps"


def test_generation_is_deterministic_and_independent_of_workers(small_split, tmp_path):
    cfg, _, fs = small_split
    again = load_split(generate(tmp_path / "again", cfg, workers=2, progress=False))
    np.testing.assert_array_equal(again.frames, fs.frames)
    np.testing.assert_array_equal(again.labels, fs.labels)


def test_ensure_split_reuses_a_matching_split(small_split, tmp_path):
    cfg, _, _ = small_split
    path = ensure_split(tmp_path, cfg, workers=1, progress=False)
    stamp = (path / FRAMES_FILE).stat().st_mtime_ns
    assert ensure_split(tmp_path, cfg, workers=1, progress=False) == path
    assert (path / FRAMES_FILE).stat().st_mtime_ns == stamp
    assert not is_generated(path, GenConfig(split="train", **{**SMALL, "n_frames": 10}))


def test_splits_use_disjoint_seeds_and_shifted_visuals(small_split, tmp_path):
    cfg, _, fs = small_split
    seeds = {s: {GenConfig(split=s, n_frames=10_000).episode_seed(e) for e in range(1000)}
             for s in PERCEPTION}
    assert all(seeds[a].isdisjoint(seeds[b]) for a in seeds for b in seeds if a < b)
    shifted = load_split(generate(tmp_path / "shifted", GenConfig(split="shifted", **SMALL),
                                  workers=1, progress=False))
    assert shifted.frames.shape == fs.frames.shape
    # other cameras, light and table colour: the mean image differs clearly
    assert np.abs(shifted.frames.mean(0).astype(float) - fs.frames.mean(0)).mean() > 5


def test_bad_configs_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="unknown split 'holdout'"):
        GenConfig(split="holdout")
    with pytest.raises(ValueError, match="n_frames"):
        GenConfig(n_frames=0)
    with pytest.raises(FileNotFoundError, match="no generated split"):
        load_split(tmp_path)


def test_mid_motion_frames_carry_their_simulator_state(small_split):
    _, _, fs = small_split
    mid = [i for i, r in enumerate(fs.records) if r["kind"].startswith("mid-")]
    assert mid and np.isfinite(fs.states).all()  # every frame, mid-motion included
    assert (fs.states[:, 12] > 0).all() and (fs.states[:, 12] <= 0.081).all()  # finger opening


def test_arm_colors_split_keeps_the_plain_panda_in_every_other_pair(tmp_path):
    cfg = GenConfig(split="arm-colors", **{**SMALL, "n_frames": 18}, plain_arm_every=2)
    assert [cfg.plain_arm(e) for e in range(6)] == [True, True, False, False, True, True]
    mixed = load_split(generate(tmp_path / "mixed", cfg, workers=1, progress=False))
    painted = load_split(generate(tmp_path / "painted", GenConfig(
        split="arm-colors", **{**SMALL, "n_frames": 18}), workers=1, progress=False))
    ep = np.array([r["seed"] - cfg.episode_seed(0) for r in mixed.records])
    assert set(ep) == {0, 1, 2}
    np.testing.assert_array_equal(mixed.labels, painted.labels)  # same episodes, other paint
    differs = [np.abs(mixed.frames[ep == e].astype(int) - painted.frames[ep == e]).mean() > 1
               for e in range(3)]
    assert differs == [True, True, False]  # episodes 0, 1 plain; episode 2 painted in both


def test_a_split_written_before_a_config_field_existed_is_still_found(small_split, tmp_path):
    cfg, path, _ = small_split
    manifest = json.loads((path / MANIFEST_FILE).read_text())
    del manifest["config"]["plain_arm_every"]  # as an older generator wrote it
    old = tmp_path / "old"
    old.mkdir()
    (old / MANIFEST_FILE).write_text(json.dumps(manifest))
    (old / FRAMES_FILE).write_bytes((path / FRAMES_FILE).read_bytes())
    assert is_generated(old, cfg)
    assert not is_generated(old, GenConfig(split="train", **SMALL, plain_arm_every=1))
