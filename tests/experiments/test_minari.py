"""The episode store <-> Minari: a lossless round trip that Minari's own loader reads, and bad input."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from experiments.data.minari_io import MinariIOError, export_store, import_dataset
from policy.store import EpisodeStore
from experiments.cli import main
from tests.policy.test_store import assert_same, make_episode

TASK = "stack the red object on top of the blue object"


def _store(root: Path, frames: bool = True, lengths: tuple[int, ...] = (3, 2, 1)) -> Path:
    with EpisodeStore(root) as store:
        for i, t in enumerate(lengths):
            ep = make_episode(t, seed=i, task=TASK, frames=frames)
            ep.meta["detected"] = [["the robot is grasping the red object"]] * (t + 1)
            store.append(ep)
    return root


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A fresh HOME and no MINARI_DATASETS_PATH: anything written outside --out shows up."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MINARI_DATASETS_PATH", raising=False)
    return tmp_path / "home"


@pytest.mark.parametrize("frames", [True, False])
def test_round_trip_through_minari_keeps_every_field(tmp_path, home, monkeypatch, frames) -> None:
    import minari

    src = _store(tmp_path / "src", frames=frames)
    out = tmp_path / "out"
    result = export_store(src, out, progress=False)
    assert result["dataset_id"] == "langstack/stack-the-red-object-on-top-of-the-blue-object-v0"
    assert result["episodes"] == 3 and result["steps"] == 6 and result["frame_embs"] is frames
    assert not home.exists()  # nothing under ~/.minari

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(out))
    dataset = minari.load_dataset(result["dataset_id"])  # Minari's own loader
    assert dataset.total_episodes == 3 and dataset.total_steps == 6
    first = dataset[0]
    assert first.observations["state"].shape == (4, 13)
    assert ("frame_embs" in first.observations) is frames
    assert first.actions.shape == (3, 2) and first.rewards.tolist() == [0, 0, 1]
    assert first.terminations.tolist() == [False, False, True] and not first.truncations.any()
    assert [p.decode() for p in first.infos["pursued"]][:2] == [
        "the robot is grasping the red object", ""]

    dst = tmp_path / "dst"
    back = import_dataset(Path(result["path"]), dst)
    assert back["episodes"] == 3 and back["tasks"] == [TASK]
    for a, b in zip(EpisodeStore(src, readonly=True), EpisodeStore(dst, readonly=True)):
        assert_same(a, b)


def test_export_leaves_out_empty_episodes_and_refuses_mixed_layouts(tmp_path, home) -> None:
    src = _store(tmp_path / "src", lengths=(2, 0, 1))
    result = export_store(src, tmp_path / "out", dataset_id="langstack/custom-v3")
    assert (result["episodes"], result["skipped_empty_episodes"]) == (2, 1)
    assert (tmp_path / "out" / "langstack" / "custom-v3" / "data" / "metadata.json").is_file()
    with pytest.raises(MinariIOError, match="already exists"):
        export_store(src, tmp_path / "out", dataset_id="langstack/custom-v3")

    mixed = _store(tmp_path / "mixed", lengths=(1,))
    with EpisodeStore(mixed) as store:
        store.append(make_episode(1, task=TASK, frames=False))
    with pytest.raises(MinariIOError, match="frame embeddings"):
        export_store(mixed, tmp_path / "out2")
    assert not (tmp_path / "out2" / "langstack" / "stack-the-red-object-on-top-of-the-blue-object-v0").exists()


def test_bad_input_is_a_clean_usage_error(tmp_path, capsys) -> None:
    assert main(["data", "export-minari", "--run-dir", str(tmp_path / "nope"),
                 "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"langstack data: error: no run directory with an episodes/ store at {tmp_path / 'nope'}"]
    assert not (tmp_path / "out").exists()
    assert main(["data", "import-minari", str(tmp_path), "--store", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no Minari dataset" in err[0]
    assert not (tmp_path / "s").exists()
