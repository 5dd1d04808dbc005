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
        """Make the directory tree (fails if the run already has a config)."""
        if self.config_path.exists():
            raise FileExistsError(f"{self.root} already holds a run; pass --resume to continue it")
        (self.root / "checkpoints").mkdir(parents=True, exist_ok=True)
        return self

    def write_config(self, config: dict[str, Any]) -> None:
        _atomic_write(self.config_path, json.dumps(config, indent=2, sort_keys=True))

    def read_config(self) -> dict[str, Any]:
        return json.loads(self.config_path.read_text())

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
        """Metrics records logged so far (a torn last line from a crash is skipped)."""
        path = self.root / "metrics.jsonl"
        if not path.exists():
            return []
        out = []
        for line in path.read_text().splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
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
