"""The episode store as a Minari dataset (the gymnasium ecosystem's offline-RL format), both ways.

An exported dataset lives under the datasets root ``OUT`` as ``OUT/<dataset id>/data/``
(HDF5), so it loads with ``MINARI_DATASETS_PATH=OUT`` and ``minari.load_dataset(id)``, or
with ``minari.MinariDataset("OUT/<dataset id>/data")``. Per episode of T steps:

- ``observations``: Dict ``{"state": (T+1, 13) float32, "frame_embs": (T+1, n_cams, E)
  float32}``; ``frame_embs`` (the CLIP image embeddings that let a new detector re-score the
  data) only when every episode of the store carries them;
- ``actions``: (T, 2) float32 (x, y) table positions, a Box over the workspace;
- ``rewards``: the env reward; ``terminations``: the step that succeeded; ``truncations``: the
  last step of an episode that ended without success (horizon, or the agent thought it done);
- ``infos["pursued"]``: (T+1,) str, the sub-goal caption pursued when acting from observation
  t ("" for the last observation, which has no action);
- episode metadata: ``task`` (the instruction) and ``langstack_meta`` (the store's episode meta
  as JSON: seed, the captions detected after every step, the detector, ...).

Import reads such a dataset back into an :class:`~policy.store.EpisodeStore`. Nothing is
unpickled: HDF5 arrays and JSON metadata only; a dataset whose metadata lacks its spaces is
refused (Minari would build its environment from the recorded spec to find them).
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from policy.episode import Episode
from policy.store import EpisodeStore, StoreError

FORMAT_VERSION = 1
PURSUED_INFO = "pursued"
TASK_META = "task"
META_KEY = "langstack_meta"
STATE_OBS, FRAMES_OBS = "state", "frame_embs"


class MinariIOError(ValueError):
    """A store or dataset that cannot be exported or imported (one clear message)."""


@dataclass(frozen=True)
class Layout:
    """Shapes shared by every episode of a store (the dataset's spaces)."""

    state_dim: int
    frames_shape: tuple[int, int] | None
    """(n_cams, E) of the frame embeddings, or None when they are not exported."""


def default_dataset_id(tasks: list[str]) -> str:
    """``langstack/<task>-v0`` for a one-task store, ``langstack/lifelong-v0`` otherwise."""
    from experiments.collect_infer.rundir import task_slug

    return f"langstack/{task_slug(tasks[0]) if len(tasks) == 1 else 'lifelong'}-v0"


@contextlib.contextmanager
def datasets_root(root: Path) -> Iterator[None]:
    """Point Minari's datasets root at ``root`` (nothing is written elsewhere) for a while."""
    old = os.environ.get("MINARI_DATASETS_PATH")
    os.environ["MINARI_DATASETS_PATH"] = str(root.resolve())
    try:
        yield
    finally:
        if old is None:
            del os.environ["MINARI_DATASETS_PATH"]
        else:
            os.environ["MINARI_DATASETS_PATH"] = old


def store_layout(store: EpisodeStore, progress: bool = False) -> Layout:
    """Check every episode has the same shapes (one pass over the store)."""
    dims, frames = set(), set()
    # delay: a bad store found within a second is one error line, not a bar and an error
    for ep in tqdm(store, total=len(store), unit="episode", desc="checking", delay=1.0,
                   disable=not progress):
        dims.add(ep.states.shape[1])
        frames.add(None if ep.frame_embs is None else ep.frame_embs.shape[1:])
    if len(dims) != 1:
        raise MinariIOError(f"episodes of {store.root} have different state sizes {sorted(dims)}")
    if len(frames) != 1:
        raise MinariIOError(f"episodes of {store.root} differ in their frame embeddings "
                            f"({sorted(map(str, frames))}); export needs one layout")
    return Layout(dims.pop(), frames.pop())


def spaces(layout: Layout) -> tuple[Any, Any]:
    """(observation space, action space) of the dataset."""
    from gymnasium import spaces as gs

    from sim import Workspace

    obs = {STATE_OBS: gs.Box(-np.inf, np.inf, (layout.state_dim,), np.float32)}
    if layout.frames_shape is not None:
        obs[FRAMES_OBS] = gs.Box(-np.inf, np.inf, layout.frames_shape, np.float32)
    ws = Workspace()
    return gs.Dict(obs), gs.Box(ws.action_low, ws.action_high, dtype=np.float32)


def to_buffer(episode: Episode, layout: Layout) -> Any:
    """One stored episode as a Minari ``EpisodeBuffer``."""
    from minari.data_collector import EpisodeBuffer

    success = episode.env_rewards > 0
    truncated = np.zeros(episode.T, bool)
    if episode.T and not success[-1]:
        truncated[-1] = True
    obs = {STATE_OBS: episode.states}
    if layout.frames_shape is not None:
        obs[FRAMES_OBS] = episode.frame_embs
    seed = episode.meta.get("seed")
    return EpisodeBuffer(seed=int(seed) if isinstance(seed, int) else None, observations=obs,
                         actions=episode.actions, rewards=list(episode.env_rewards),
                         terminations=list(success), truncations=list(truncated),
                         infos={PURSUED_INFO: [*episode.pursued, ""]})


def export_store(store_dir: Path, out: Path, dataset_id: str | None = None,
                 progress: bool = False) -> dict[str, Any]:
    """Write the episodes of ``store_dir`` as a Minari dataset under the datasets root ``out``.

    Episodes of 0 steps (nothing to act on) are left out and counted.
    """
    import minari
    from minari.dataset.minari_dataset import parse_dataset_id

    try:
        store = EpisodeStore(store_dir, readonly=True)
    except StoreError as exc:
        raise MinariIOError(str(exc)) from None
    records = [r for r in store.records() if r.T > 0]
    if not records:
        raise MinariIOError(f"the episode store {store_dir} has no episodes with steps to export")
    tasks = sorted({r.task for r in records})
    dataset_id = dataset_id or default_dataset_id(tasks)
    try:
        parse_dataset_id(dataset_id)
    except ValueError as exc:
        raise MinariIOError(str(exc)) from None
    target = out / dataset_id
    if target.exists():
        raise MinariIOError(f"a dataset already exists at {target}; choose another --out or "
                            "--dataset-id")
    layout = store_layout(store, progress)
    observation_space, action_space = spaces(layout)
    episodes = (store.load(r.index) for r in records)
    buffers = (to_buffer(ep, layout) for ep in tqdm(episodes, total=len(records), unit="episode",
                                                     desc="exporting", disable=not progress))
    out.mkdir(parents=True, exist_ok=True)
    try:
        with datasets_root(out), warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # no permalink, e-mail or eval env
            dataset = minari.create_dataset_from_buffers(
                dataset_id, buffers, observation_space=observation_space,
                action_space=action_space, algorithm_name="langstack Collect & Infer",
                author="langstack", description=_description(tasks), jpeg_encoding=False)
            dataset.storage.update_episode_metadata(
                {TASK_META: r.task, META_KEY: json.dumps(r.meta)} for r in records)
            dataset.storage.update_metadata({"langstack": {
                "format_version": FORMAT_VERSION, "tasks": tasks, "source": str(store_dir),
                "frame_embs": layout.frames_shape is not None}})
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)  # never leave half a dataset
        raise
    return {"dataset_id": dataset_id, "path": str(target), "datasets_root": str(out),
            "episodes": len(records), "steps": int(sum(r.T for r in records)),
            "skipped_empty_episodes": len(store) - len(records), "tasks": tasks,
            "frame_embs": layout.frames_shape is not None}


def _description(tasks: list[str]) -> str:
    return ("langstack episodes (Collect & Infer) for: " + "; ".join(tasks) + ". Observations: "
            "state (object and end-effector positions) and, if present, CLIP frame embeddings; "
            "infos['pursued']: the sub-goal caption pursued at each observation.")


def dataset_data_path(path: Path) -> Path:
    """The ``data/`` directory of a dataset given as that directory or its parent."""
    for candidate in (path / "data", path):
        if (candidate / "metadata.json").is_file():
            return candidate
    raise MinariIOError(f"no Minari dataset at {path} (expected data/metadata.json)")


def import_dataset(path: Path, store_dir: Path, progress: bool = False) -> dict[str, Any]:
    """Append the episodes of the Minari dataset at ``path`` to the episode store ``store_dir``."""
    import minari
    from minari.dataset.minari_storage import MinariStorage

    data_path = dataset_data_path(path)
    raw = MinariStorage.read_raw_metadata(data_path)
    if "observation_space" not in raw or "action_space" not in raw:
        raise MinariIOError(f"{data_path}: the dataset's metadata does not record its spaces")
    try:
        dataset = minari.MinariDataset(data_path)
        metas = list(dataset.storage.get_episode_metadata(dataset.episode_indices))
    except (ValueError, KeyError, OSError, ImportError) as exc:
        raise MinariIOError(f"unreadable Minari dataset {data_path}: {exc}") from None

    def episodes(desc: str) -> Iterator[Episode]:
        pairs = zip(dataset.iterate_episodes(), metas)
        for data, meta in tqdm(pairs, total=len(metas), unit="episode", desc=desc,
                               disable=not progress):
            yield from_episode_data(data, meta)

    for _ in episodes("checking"):  # all or nothing: check every episode before writing
        pass
    try:
        store = EpisodeStore(store_dir)
    except StoreError as exc:
        raise MinariIOError(str(exc)) from None
    with store:
        first = len(store)
        for episode in episodes("importing"):
            store.append(episode)
        added = store.records()[first:]
    return {"store": str(store_dir), "dataset_id": raw.get("dataset_id"),
            "episodes": len(added), "steps": int(sum(r.T for r in added)),
            "store_episodes": first + len(added), "tasks": sorted({r.task for r in added})}


def from_episode_data(data: Any, meta: dict[str, Any]) -> Episode:
    """One Minari ``EpisodeData`` (+ its episode metadata) as an :class:`Episode`."""
    obs = data.observations
    if isinstance(obs, dict):
        if STATE_OBS not in obs:
            raise MinariIOError(f"episode {data.id}: observations have no {STATE_OBS!r} key")
        states, frames = obs[STATE_OBS], obs.get(FRAMES_OBS)
    else:
        states, frames = obs, None
    task = _text(meta.get(TASK_META, ""))
    if not task:
        raise MinariIOError(f"episode {data.id}: no {TASK_META!r} in its metadata (the instruction)")
    extra = json.loads(_text(meta[META_KEY])) if META_KEY in meta else {}
    t = len(data.rewards)
    pursued = [_text(p) for p in (data.infos or {}).get(PURSUED_INFO, [""] * (t + 1))][:t]
    try:
        return Episode(task=task, states=np.asarray(states), actions=np.asarray(data.actions),
                       pursued=pursued, env_rewards=np.asarray(data.rewards),
                       frame_embs=None if frames is None else np.asarray(frames), meta=extra)
    except ValueError as exc:
        raise MinariIOError(f"episode {data.id}: {exc}") from None


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)
