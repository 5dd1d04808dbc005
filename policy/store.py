"""An append-only, crash-safe episode store on disk (Collect & Infer data, the lifelong buffer).

Layout of ``root``::

    manifest.jsonl      one JSON line per committed episode (index, file, task, T, meta, sha256)
    ep_00000000.npz     episode 0 (numpy arrays only; loaded with allow_pickle=False)
    writer.lock         flock held by the single writer

Commit protocol of :meth:`EpisodeStore.append`: write the npz to ``<file>.tmp``, fsync,
``os.replace`` to its final name, fsync the directory, then append ONE newline-terminated
line to the manifest and fsync it. That line is the commit: an episode exists only if its
manifest line is complete (ends with ``\\n``). Hence after a crash:

- a partial last manifest line is ignored (a writer truncates it away when opening);
- npz/tmp files without a manifest line are ignored (a writer deletes them when opening);
- a complete manifest line that is not valid JSON, or out-of-order indices, is corruption
  that no crash can produce: opening raises :class:`StoreError`;
- a file whose bytes do not match the manifest's sha256 raises :class:`CorruptEpisodeError`
  when loaded (see :meth:`EpisodeStore.verify` to list them).

Concurrency: ONE writer at a time (the learner). The writer holds an exclusive ``flock`` on
``writer.lock``; a second writer fails with :class:`StoreError`. Any number of readers
(``readonly=True``, e.g. actors) may open the store concurrently; they never modify it and see
new episodes after :meth:`EpisodeStore.refresh`. One store object may be shared by threads.
"""
from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import io
import json
import logging
import os
import re
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from policy.episode import Episode

__all__ = ["CorruptEpisodeError", "Episode", "EpisodeRecord", "EpisodeStore", "StoreError"]

log = logging.getLogger(__name__)

MANIFEST = "manifest.jsonl"
LOCK_FILE = "writer.lock"
TMP_SUFFIX = ".tmp"
_FILE_RE = re.compile(r"^ep_(\d{8})\.npz$")

# npz keys
STATES_KEY = "states"
ACTIONS_KEY = "actions"
PURSUED_KEY = "pursued"
REWARDS_KEY = "env_rewards"
FRAMES_KEY = "frame_embs"
TASK_KEY = "task"


class StoreError(Exception):
    """The store cannot be opened or written (missing, locked by a writer, corrupt manifest)."""


class CorruptEpisodeError(StoreError):
    """A committed episode's file is missing or does not match its manifest checksum."""


def episode_file(index: int) -> str:
    """File name of episode ``index``."""
    return f"ep_{index:08d}.npz"


@dataclass(frozen=True)
class EpisodeRecord:
    """A manifest line: what is known about an episode without loading it."""

    index: int
    file: str
    task: str
    T: int  # noqa: N815
    meta: dict[str, Any]
    sha256: str


class EpisodeStore:
    """Append-only on-disk episode store; see the module docstring for the guarantees."""

    def __init__(self, root: str | os.PathLike[str], *, readonly: bool = False) -> None:
        self.root = Path(root)
        self.readonly = readonly
        self._lock = threading.Lock()
        self._lock_file: io.BufferedRandom | None = None
        self._records: list[EpisodeRecord] = []
        if readonly:
            if not self.root.is_dir():
                raise StoreError(f"episode store not found: {self.root}")
        else:
            self.root.mkdir(parents=True, exist_ok=True)
            self._acquire_writer_lock()
        self._records = self._read_manifest(repair=not readonly)
        if not readonly:
            self._delete_orphans()

    # ---- opening -------------------------------------------------------------------------
    def _acquire_writer_lock(self) -> None:
        handle = open(self.root / LOCK_FILE, "a+b")  # noqa: SIM115 - held until close()
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise StoreError(
                f"another writer has the episode store open: {self.root} "
                "(one writer at a time; open readers with readonly=True)"
            ) from None
        self._lock_file = handle

    def _read_manifest(self, repair: bool) -> list[EpisodeRecord]:
        path = self.root / MANIFEST
        data = path.read_bytes() if path.exists() else b""
        committed = data[: data.rfind(b"\n") + 1]  # only newline-terminated lines count
        if len(committed) < len(data):
            # Readers may simply be racing the writer's append; only a repair is worth a warning.
            log.log(logging.WARNING if repair else logging.DEBUG,
                    "%s: ignoring a partial last line (%d bytes)", path, len(data) - len(committed))
            if repair:
                with open(path, "r+b") as fh:
                    fh.truncate(len(committed))
                    fh.flush()
                    os.fsync(fh.fileno())
        records = []
        for lineno, line in enumerate(committed.split(b"\n")[:-1], start=1):
            try:
                doc = json.loads(line)
                record = EpisodeRecord(**doc)
            except (UnicodeDecodeError, json.JSONDecodeError, TypeError) as exc:
                raise StoreError(f"{path}:{lineno}: corrupt manifest line: {exc}") from None
            if record.index != len(records) or record.file != episode_file(record.index):
                raise StoreError(f"{path}:{lineno}: expected episode {len(records)}, got {doc}")
            records.append(record)
        return records

    def _delete_orphans(self) -> None:
        for path in self.root.iterdir():
            match = _FILE_RE.match(path.name)
            if path.name.endswith(TMP_SUFFIX) or (match and int(match[1]) >= len(self._records)):
                log.warning("%s: deleting uncommitted file", path)
                path.unlink()

    # ---- reading -------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[Episode]:
        return (self.load(i) for i in range(len(self)))

    def records(self, task: str | None = None) -> list[EpisodeRecord]:
        """Manifest records (all, or those of ``task``), without loading any file."""
        return [r for r in self._records if task is None or r.task == task]

    def episodes(self, task: str | None = None) -> Iterator[Episode]:
        """Lazily load every episode, or those whose instruction is ``task``."""
        return (self.load(r.index) for r in self.records(task))

    def load(self, index: int) -> Episode:
        """Load episode ``index``, verifying its checksum."""
        if not 0 <= index < len(self._records):
            raise IndexError(f"episode {index} not in store of {len(self._records)}")
        record = self._records[index]
        path = self.root / record.file
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise CorruptEpisodeError(f"committed episode file is missing: {path}") from None
        if hashlib.sha256(data).hexdigest() != record.sha256:
            raise CorruptEpisodeError(f"checksum mismatch (corrupt file): {path}")
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                frames = npz[FRAMES_KEY] if FRAMES_KEY in npz.files else None
                return Episode(
                    task=str(npz[TASK_KEY]),
                    states=npz[STATES_KEY],
                    actions=npz[ACTIONS_KEY],
                    pursued=[str(p) for p in npz[PURSUED_KEY]],
                    env_rewards=npz[REWARDS_KEY],
                    frame_embs=frames,
                    meta=json.loads(json.dumps(record.meta)),  # a private copy
                )
        except (ValueError, KeyError, OSError, zipfile.BadZipFile) as exc:
            raise CorruptEpisodeError(f"unreadable episode file {path}: {exc}") from None

    def verify(self) -> list[int]:
        """Indices of committed episodes whose file is missing or fails the checksum."""
        bad = []
        for r in self._records:
            path = self.root / r.file
            if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != r.sha256:
                bad.append(r.index)
        return bad

    def refresh(self) -> int:
        """Re-read the manifest (readers: see episodes appended since opening); returns len."""
        with self._lock:
            self._records = self._read_manifest(repair=False)
            return len(self._records)

    # ---- writing -------------------------------------------------------------------------
    def append(self, episode: Episode) -> int:
        """Commit ``episode`` durably; returns its index."""
        try:
            meta_json = json.loads(json.dumps(episode.meta, allow_nan=False))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"episode meta is not JSON-serialisable: {exc}") from None
        arrays = {
            TASK_KEY: np.array(episode.task, dtype=np.str_),
            STATES_KEY: episode.states,
            ACTIONS_KEY: episode.actions,
            PURSUED_KEY: np.array(episode.pursued, dtype=np.str_).reshape(episode.T),
            REWARDS_KEY: episode.env_rewards,
        }
        if episode.frame_embs is not None:
            arrays[FRAMES_KEY] = episode.frame_embs
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        data = buffer.getvalue()
        with self._lock:
            if self.readonly or self._lock_file is None:
                raise StoreError(f"episode store is not open for writing: {self.root}")
            index = len(self._records)
            record = EpisodeRecord(
                index=index, file=episode_file(index), task=episode.task, T=episode.T,
                meta=meta_json, sha256=hashlib.sha256(data).hexdigest(),
            )
            self._write_file(record.file, data)
            self._commit(record)
            self._records.append(record)
            return index

    def _write_file(self, name: str, data: bytes) -> None:
        tmp = self.root / (name + TMP_SUFFIX)
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.root / name)
        _fsync_dir(self.root)

    def _commit(self, record: EpisodeRecord) -> None:
        line = (json.dumps(dataclasses.asdict(record), separators=(",", ":")) + "\n").encode()
        path = self.root / MANIFEST
        created = not path.exists()
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            size = os.fstat(fd).st_size
            try:
                view = memoryview(line)
                while view:  # unbuffered: nothing is left to flush after a failure
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            except BaseException:
                os.ftruncate(fd, size)  # never leave a partial line before the next commit
                raise
        finally:
            os.close(fd)
        if created:
            _fsync_dir(self.root)

    def close(self) -> None:
        """Release the writer lock (readers: no-op). The store cannot be written afterwards."""
        with self._lock:
            if self._lock_file is not None:
                self._lock_file.close()  # closing the descriptor releases the flock
                self._lock_file = None

    def __enter__(self) -> EpisodeStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
