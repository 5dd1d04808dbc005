"""A run's directory: ``runs/<task>__<agent>__<seed>__<time>/``.

Holds the resolved config (config.json), metrics (metrics.jsonl; curve.csv; TensorBoard
scalars under tb/), the episode store (episodes/), checkpoints (checkpoints/latest), the
learning-curve PNG and eval videos. Nothing is written outside it.
"""
from __future__ import annotations

import csv
import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from experiments.collect_infer.config import ConfigError, TrainConfig, config_from_dict

CURVE_FIELDS = ("env_steps", "eval_success_rate", "eval_episodes", "wall_s")


def task_slug(task: str) -> str:
    """A file-name-safe form of an instruction."""
    return re.sub(r"[^a-z0-9]+", "-", task.lower()).strip("-")[:60]


def run_name(task: str, agent: str, seed: int) -> str:
    """``<task>__<agent>__<seed>__<time>`` with the task as a file-name-safe slug."""
    return f"{task_slug(task)}__{agent}__{seed}__{time.strftime('%Y%m%d-%H%M%S')}"


@dataclass
class RunDir:
    """Paths and writers of one run."""

    root: Path
    _writer: Any = field(default=None, init=False, repr=False)

    @property
    def config_path(self) -> Path:
        return self.root / "config.json"

    @property
    def episodes(self) -> Path:
        return self.root / "episodes"

    @property
    def checkpoint(self) -> Path:
        return self.root / "checkpoints" / "latest"

    @property
    def curve_png(self) -> Path:
        return self.root / "learning_curve.png"

    def create(self) -> "RunDir":
        """Make the directory tree (see :func:`check_new_run_dir` for what is refused)."""
        check_new_run_dir(self.root)
        (self.root / "checkpoints").mkdir(parents=True, exist_ok=True)
        return self

    def write_config(self, config: dict[str, Any]) -> None:
        _atomic_write(self.config_path, json.dumps(config, indent=2, sort_keys=True))

    def read_config(self) -> dict[str, Any]:
        """config.json as written by the loop: an object whose "train" is an object
        (:class:`ConfigError` otherwise; FileNotFoundError if the run has none)."""
        if not self.config_path.is_file():
            raise FileNotFoundError(f"not a run directory (no config.json): {self.root}")
        try:
            config = json.loads(self.config_path.read_text())
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ConfigError(f"corrupt {self.config_path}: {exc}") from None
        if not isinstance(config, dict) or not isinstance(config.get("train"), dict):
            raise ConfigError(f"{self.config_path} is not a run config (no \"train\" settings)")
        return config

    def train_config(self) -> TrainConfig:
        """The run's stored :class:`TrainConfig`, checked (a :class:`ConfigError` names what
        this version cannot use)."""
        return config_from_dict(self.read_config()["train"], str(self.config_path))

    def log(self, record: dict[str, Any]) -> None:
        """Append one metrics record (JSONL; eval records also go to curve.csv and TensorBoard)."""
        with open(self.root / "metrics.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")
            f.flush()
            os.fsync(f.fileno())
        if record.get("kind") == "eval":
            new = not (self.root / "curve.csv").exists()
            with open(self.root / "curve.csv", "a", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=CURVE_FIELDS, extrasaction="ignore")
                if new:
                    writer.writeheader()
                writer.writerow(record)
        self._tensorboard(record)

    def records(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Metrics records logged so far. A torn last line (a crash mid-write) is skipped; a
        corrupt line before it is a ValueError naming the file and line."""
        path = self.root / "metrics.jsonl"
        if not path.exists():
            return []
        lines = path.read_bytes().split(b"\n")
        last = max((i for i, line in enumerate(lines, 1) if line.strip()), default=0)
        out = []
        for number, line in enumerate(lines, 1):
            rec = _record(line)
            if rec is None:
                if not line.strip() or number == last:
                    continue  # a blank line, or the torn last line
                raise ValueError(f"{path}: line {number} is not a JSON metrics record")
            if kind is None or rec.get("kind") == kind:
                out.append(rec)
        return out

    def _tensorboard(self, record: dict[str, Any]) -> None:
        if self._writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(log_dir=str(self.root / "tb"))
        step = int(record.get("env_steps", 0))
        kind = record.get("kind", "misc")
        for key, value in record.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) and key != "env_steps":
                self._writer.add_scalar(f"{kind}/{key}", value, step)
        self._writer.flush()

    def close(self) -> None:
        """Flush and close the TensorBoard writer."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def check_creatable(path: Path, what: str = "directory") -> None:
    """``path`` is a directory or can be made one: it is not a file and no folder above it
    is a file (NotADirectoryError naming ``what``)."""
    if path.exists():
        if not path.is_dir():
            raise NotADirectoryError(f"{what} {path} is a file, not a directory")
        return
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise NotADirectoryError(f"{what} {path}: {parent} is a file, not a directory")
            return


def check_new_run_dir(root: Path) -> None:
    """A new run needs a directory that does not exist or is empty: refuse a file, an
    existing run (FileExistsError: resume it) and any other non-empty directory.

    An empty ``checkpoints/`` (left by a run that failed before its config) counts as empty.
    """
    check_creatable(root, "run directory")
    if not root.exists():
        return
    if (root / "config.json").exists():
        raise FileExistsError(f"{root} already holds a run; pass --resume to continue it")
    left = [p for p in root.iterdir()
            if not (p.name == "checkpoints" and p.is_dir() and not any(p.iterdir()))]
    if left:
        raise FileExistsError(f"{root} is not empty and not a run: a new run needs a new or "
                              "empty directory")


def _record(line: bytes) -> dict[str, Any] | None:
    """One metrics line as a dict, or None if it is not a JSON object."""
    try:
        rec = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return rec if isinstance(rec, dict) else None


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def plot_curves(curves: dict[str, list[tuple[int, float]]], path: Path, title: str) -> None:
    """Success rate vs env steps, one line per label, saved as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for label, points in curves.items():
        if points:
            xs, ys = zip(*points)
            ax.plot(xs, ys, marker="o", markersize=3, label=label)
    ax.set_xlabel("env steps")
    ax.set_ylabel("success rate (greedy eval)")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
