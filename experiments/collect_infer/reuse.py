"""Lifelong data reuse (the paper's Sec. 5.2): earlier tasks' episodes, re-scored for a new one.

Every run keeps its episodes on disk, with each frame's image embeddings when the CLIP detector
ran (:mod:`experiments.collect_infer.collect`). A new task imports from the stores of earlier runs:

1. the CURRENT detector re-scores each stored episode against the new task's sub-goals from
   the stored frame embeddings - never from the detections stored with it, which answered the
   old run's detector, so a new detector or new sub-goals re-score old data without
   re-simulating;
2. the hindsight rule of :func:`policy.relabel.relabel_newly_detected` picks the steps: the
   step after which a sub-goal of the new plan became newly true is imported under that
   sub-goal; captions outside the plan and the old task's env reward give nothing.

The policy is not carried over (the loop starts from fresh weights), so the gain measured is
data reuse alone.

The oracle detector has no embeddings to re-score; the detections it stored are ground truth
over the whole caption vocabulary, so for episodes the oracle collected they are read back (and
restricted to the new plan the same way). Episodes the current detector cannot re-score (oracle
data under CLIP, CLIP data under the oracle) are skipped and counted.
"""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from experiments.collect_infer.detectors import SubgoalDetector
from experiments.collect_infer.infer import ImitationData, Label
from policy.episode import Episode
from policy.relabel import relabel_newly_detected
from policy.store import MANIFEST, EpisodeStore, StoreError


class ReuseError(ValueError):
    """A reuse source that is missing, unreadable or cannot be re-scored by this detector."""


@dataclass(frozen=True)
class ReuseSource:
    """An earlier run's episode store and the detector that collected it."""

    store: Path
    collected_by: str | None
    """"clip", "oracle", "none" (the env-reward baseline) or None (a bare store: unknown)."""


def find_source(path: str | Path) -> ReuseSource:
    """The episode store of a run directory (``RUN/episodes``) or a store directory itself."""
    root = Path(path)
    if (root / "config.json").is_file():
        if not (root / "episodes" / MANIFEST).is_file():
            raise ReuseError(f"the run has no stored episodes: {root}")
        try:
            train = json.loads((root / "config.json").read_text())["train"]
        except (OSError, ValueError, KeyError) as exc:
            raise ReuseError(f"unreadable run config {root / 'config.json'}: {exc}") from None
        collected_by = "none" if train.get("agent") == "baseline" else train.get("detector")
        return ReuseSource(root / "episodes", collected_by)
    if (root / MANIFEST).is_file():
        return ReuseSource(root, None)
    raise ReuseError(f"not a run directory with episodes nor an episode store: {root}")


def can_rescore(episode: Episode, detector: str, collected_by: str | None = None) -> bool:
    """Whether ``detector`` ("clip" or "oracle") can re-score a stored episode."""
    if detector == "oracle":
        return episode.meta.get("detector", collected_by) == "oracle"
    return episode.frame_embs is not None


def redetect(episode: Episode, detector: SubgoalDetector,
             collected_by: str | None = None) -> list[set[str]] | None:
    """The captions ``detector`` finds in each of the episode's T+1 states (None: cannot)."""
    if not can_rescore(episode, detector.name, collected_by):
        return None
    if detector.name == "oracle":  # ground truth, stored over the whole vocabulary
        return [set(d) for d in episode.meta["detected"]]
    check_embedded_by(episode, getattr(detector, "identity", None))
    return detector.detect_embeddings(episode.frame_embs)


def check_embedded_by(episode: Episode, mine: str | None) -> None:
    """ValueError unless the detector with weights hash ``mine`` embedded the episode's
    frames: another detector's embeddings score as silent nonsense, and no frames are
    stored to embed again."""
    stored = episode.meta.get("detector_sha256")
    if stored is None:
        raise ValueError("its frame embeddings carry no detector hash (stored before langstack "
                         "recorded it), so the detector that made them is unknown")
    if stored != mine:
        raise ValueError(f"its frames were embedded by the detector with weights sha256 "
                         f"{stored[:12]}..., this run's detector is {str(mine)[:12]}...; "
                         f"frames are not stored, so they cannot be embedded again: reuse it "
                         f"with the detector that collected it (--detector-path)")


def reuse_labels(detected: Sequence[set[str]], plan: Sequence[str]) -> list[Label]:
    """(step, sub-goal) for each step after which a sub-goal of ``plan`` became newly true."""
    return relabel_newly_detected(detected, captions=list(dict.fromkeys(plan)))


@dataclass
class ReuseStats:
    """What an import found (logged as the ``kind: "reuse"`` metrics record)."""

    sources: list[str]
    episodes: int = 0
    """Stored episodes read."""
    skipped: int = 0
    """Episodes the current detector cannot re-score."""
    imported_steps: int = 0
    label_counts: dict[str, int] = field(default_factory=dict)
    """Imported steps per sub-goal."""


def import_episodes(episodes: Iterable[tuple[Episode, str | None]], detector: SubgoalDetector,
                    plan: Sequence[str], data: ImitationData, stats: ReuseStats) -> None:
    """Re-score ``(episode, collected_by)`` pairs and add the matching steps to ``data``."""
    counts = Counter(stats.label_counts)
    for episode, collected_by in episodes:
        stats.episodes += 1
        try:
            detected = redetect(episode, detector, collected_by)
        except ValueError as exc:  # e.g. embeddings of another CLIP model
            raise ReuseError(f"cannot re-score stored episodes with this detector: {exc}") from None
        if detected is None:
            stats.skipped += 1
            continue
        labels = reuse_labels(detected, plan)
        data.add(episode, labels)
        counts.update(goal for _, goal in labels)
    stats.label_counts = dict(counts)
    stats.imported_steps = sum(counts.values())


def import_reused(paths: Sequence[str], detector: SubgoalDetector, plan: Sequence[str],
                  data: ImitationData, progress: bool = False) -> ReuseStats:
    """Import the matching prefixes of every episode stored under ``paths`` into ``data``."""
    sources = [find_source(p) for p in paths]
    stats = ReuseStats(sources=[str(s.store) for s in sources])
    for source in sources:
        try:
            store = EpisodeStore(source.store, readonly=True)
        except StoreError as exc:
            raise ReuseError(str(exc)) from None
        episodes = tqdm(store.episodes(), total=len(store), unit="episode", disable=not progress,
                        desc=f"re-scoring {source.store}")
        import_episodes(((ep, source.collected_by) for ep in episodes), detector, plan, data, stats)
    return stats


def check_sources(paths: Sequence[str], detector: str,
                  detector_sha256: str | None = None) -> list[ReuseSource]:
    """Fail early (ReuseError) on a source that is missing or that ``detector`` cannot
    re-score (with ``detector_sha256``: the CLIP detector's weights, also one whose frames
    another detector embedded)."""
    sources = [find_source(p) for p in paths]
    for source in sources:
        try:
            store = EpisodeStore(source.store, readonly=True)
            first = store.load(0) if len(store) else None
        except StoreError as exc:
            raise ReuseError(str(exc)) from None
        if first is not None and detector_sha256 is not None and first.frame_embs is not None:
            try:
                check_embedded_by(first, detector_sha256)
            except ValueError as exc:
                raise ReuseError(f"cannot re-score {source.store}: {exc}") from None
        if first is not None and not can_rescore(first, detector, source.collected_by):
            hint = ("it has no frame embeddings (collected without CLIP); reuse it with "
                    "--detector oracle" if detector == "clip" else
                    "its stored detections are not the oracle's; reuse it with --detector clip")
            raise ReuseError(f"the {detector} detector cannot re-score {source.store}: {hint}")
    return sources


def make_rescorer(detector: str, detector_path: str | None, plan: Sequence[str]) -> SubgoalDetector:
    """The current detector ("clip" or "oracle"), scoring only the new task's sub-goals."""
    from experiments.collect_infer.detectors import make_detector

    return make_detector(detector, detector_path, captions=list(dict.fromkeys(plan)))


def reuse_record(stats: ReuseStats) -> dict[str, Any]:
    """The metrics record of an import."""
    return {"kind": "reuse", "env_steps": 0, "sources": stats.sources,
            "reused_episodes": stats.episodes, "skipped_episodes": stats.skipped,
            "imported_steps": stats.imported_steps, "label_counts": stats.label_counts}
