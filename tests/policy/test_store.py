"""EpisodeStore: round trip, atomic commits, crash tolerance, single writer."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from policy.store import (
    LOCK_FILE, MANIFEST, CorruptEpisodeError, Episode, EpisodeStore, StoreError, episode_file,
)


PURSUED = ("the robot is grasping the red object", "", "the red object is on top of the blue object")


def make_episode(
    t: int = 3, seed: int = 0, task: str = "stack red on blue", frames: bool = True
) -> Episode:
    """A T-step episode (T <= 3) whose last step has env reward 1."""
    rng = np.random.default_rng(seed)
    return Episode(
        task=task,
        states=rng.normal(size=(t + 1, 13)),
        actions=rng.uniform(size=(t, 2)),
        pursued=list(PURSUED[:t]),
        env_rewards=np.eye(1, t, t - 1).ravel() if t else np.zeros(0),
        frame_embs=rng.normal(size=(t + 1, 2, 8)) if frames else None,
        meta={"seed": seed, "actor": "a0", "nested": {"ok": [1, 2]}},
    )


def assert_same(a: Episode, b: Episode) -> None:
    assert a.task == b.task and a.pursued == b.pursued and a.meta == b.meta
    assert np.array_equal(a.states, b.states) and np.array_equal(a.actions, b.actions)
    assert np.array_equal(a.env_rewards, b.env_rewards)
    assert (a.frame_embs is None) == (b.frame_embs is None)
    if a.frame_embs is not None:
        assert np.array_equal(a.frame_embs, b.frame_embs)


def test_append_load_round_trip(tmp_path: Path) -> None:
    episodes = [make_episode(3, 0), make_episode(1, 1, "grasp the red object", frames=False),
                make_episode(0, 2, frames=False)]
    with EpisodeStore(tmp_path / "s") as store:
        assert [store.append(ep) for ep in episodes] == [0, 1, 2]
        assert len(store) == 3
        for original, loaded in zip(episodes, store):
            assert_same(original, loaded)
        assert loaded.states.dtype == np.float32 and loaded.T == 0
        assert [e.meta["seed"] for e in store.episodes("stack red on blue")] == [0, 2]
        assert [r.T for r in store.records()] == [3, 1, 0]
        assert store.verify() == []
    lines = (tmp_path / "s" / MANIFEST).read_text().splitlines()
    assert [json.loads(line)["file"] for line in lines] == [episode_file(i) for i in range(3)]


def test_reopening_continues_indices(tmp_path: Path) -> None:
    with EpisodeStore(tmp_path) as store:
        store.append(make_episode(seed=0))
        store.append(make_episode(seed=1))
    with EpisodeStore(tmp_path) as store:
        assert len(store) == 2
        assert store.append(make_episode(seed=2)) == 2
        assert [e.meta["seed"] for e in store] == [0, 1, 2]


def test_truncated_last_manifest_line_is_ignored_and_repaired(tmp_path: Path) -> None:
    with EpisodeStore(tmp_path) as store:
        store.append(make_episode(seed=0))
        store.append(make_episode(seed=1))
    manifest = tmp_path / MANIFEST
    text = manifest.read_bytes()
    manifest.write_bytes(text[:-10])  # crash in the middle of writing the second line
    reader = EpisodeStore(tmp_path, readonly=True)
    assert len(reader) == 1 and manifest.read_bytes() == text[:-10]  # readers never modify
    with EpisodeStore(tmp_path) as store:
        assert len(store) == 1
        assert manifest.read_bytes() == text[: text.index(b"\n") + 1]  # repaired
        assert not (tmp_path / episode_file(1)).exists()  # its file became an orphan: deleted
        assert store.append(make_episode(seed=7)) == 1
        assert store.load(1).meta["seed"] == 7
    assert reader.refresh() == 2


def test_orphan_files_are_ignored_and_deleted_by_the_writer(tmp_path: Path) -> None:
    with EpisodeStore(tmp_path) as store:
        store.append(make_episode(seed=0))
    (tmp_path / episode_file(1)).write_bytes(b"crashed before the manifest line")
    (tmp_path / (episode_file(1) + ".tmp")).write_bytes(b"crashed mid-write")
    assert len(EpisodeStore(tmp_path, readonly=True)) == 1
    assert (tmp_path / episode_file(1)).exists()
    with EpisodeStore(tmp_path) as store:
        assert len(store) == 1
        names = sorted(p.name for p in tmp_path.iterdir())
        assert names == sorted([LOCK_FILE, MANIFEST, episode_file(0)])


def test_failed_commit_leaves_no_partial_manifest_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = os.write

    def half_then_disk_full(fd: int, data: bytes) -> int:
        real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError("No space left on device")

    with EpisodeStore(tmp_path) as store:
        store.append(make_episode(seed=0))
        before = (tmp_path / MANIFEST).read_bytes()
        monkeypatch.setattr("policy.store.os.write", half_then_disk_full)
        with pytest.raises(OSError, match="No space"):
            store.append(make_episode(seed=1))
        monkeypatch.undo()
        assert (tmp_path / MANIFEST).read_bytes() == before and len(store) == 1
        assert store.append(make_episode(seed=2)) == 1
    with EpisodeStore(tmp_path, readonly=True) as reader:
        assert [e.meta["seed"] for e in reader] == [0, 2]


def test_corrupted_or_missing_episode_file_raises_clear_error(tmp_path: Path) -> None:
    with EpisodeStore(tmp_path) as store:
        for seed in range(3):
            store.append(make_episode(seed=seed))
        path = tmp_path / episode_file(1)
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
        (tmp_path / episode_file(2)).unlink()
        with pytest.raises(CorruptEpisodeError, match="checksum mismatch.*ep_00000001"):
            store.load(1)
        with pytest.raises(CorruptEpisodeError, match="missing"):
            store.load(2)
        assert store.load(0).meta["seed"] == 0
        assert store.verify() == [1, 2]
        with pytest.raises(IndexError):
            store.load(3)


def test_corrupt_manifest_line_in_the_middle_is_an_error(tmp_path: Path) -> None:
    with EpisodeStore(tmp_path) as store:
        store.append(make_episode(seed=0))
        store.append(make_episode(seed=1))
    manifest = tmp_path / MANIFEST
    lines = manifest.read_text().splitlines(keepends=True)
    manifest.write_text("{garbage\n" + lines[1])
    with pytest.raises(StoreError, match="corrupt manifest line"):
        EpisodeStore(tmp_path, readonly=True)
    manifest.write_text(lines[1])  # index 1 where 0 is expected
    with pytest.raises(StoreError, match="expected episode 0"):
        EpisodeStore(tmp_path, readonly=True)


def test_single_writer_and_readonly_readers(tmp_path: Path) -> None:
    writer = EpisodeStore(tmp_path)
    with pytest.raises(StoreError, match="another writer"):
        EpisodeStore(tmp_path)
    reader = EpisodeStore(tmp_path, readonly=True)
    writer.append(make_episode(seed=0))
    assert len(reader) == 0 and reader.refresh() == 1
    assert reader.load(0).meta["seed"] == 0
    with pytest.raises(StoreError, match="not open for writing"):
        reader.append(make_episode())
    writer.close()
    with pytest.raises(StoreError, match="not open for writing"):
        writer.append(make_episode())
    with EpisodeStore(tmp_path) as again:  # the lock was released
        assert len(again) == 1
    with pytest.raises(StoreError, match="not found"):
        EpisodeStore(tmp_path / "missing", readonly=True)


def test_invalid_episodes_are_rejected_before_anything_is_written(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="states"):
        Episode("t", np.zeros((3, 13)), np.zeros((3, 2)), ["", "", ""], np.zeros(3))
    with pytest.raises(ValueError, match="length T"):
        Episode("t", np.zeros((3, 13)), np.zeros((2, 2)), [""], np.zeros(2))
    with pytest.raises(ValueError, match="frame_embs"):
        Episode("t", np.zeros((3, 13)), np.zeros((2, 2)), ["", ""], np.zeros(2), np.zeros((2, 2, 8)))
    bad_meta = make_episode()
    bad_meta.meta["array"] = np.zeros(2)
    with EpisodeStore(tmp_path) as store:
        with pytest.raises(ValueError, match="JSON"):
            store.append(bad_meta)
        assert len(store) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [LOCK_FILE]


def test_files_load_without_pickle(tmp_path: Path) -> None:
    with EpisodeStore(tmp_path) as store:
        store.append(make_episode())
    with np.load(tmp_path / episode_file(0), allow_pickle=False) as npz:
        assert npz["pursued"].dtype.kind == "U" and str(npz["task"]) == "stack red on blue"
