"""Evaluation: precision/recall of a detector on held-out frames, and the paper's Fig. 10.

Metrics count every (frame, caption) decision: a true positive is a caption detected on a
frame whose ground-truth predicates make it true. *Overall* numbers are micro-averaged over
all 9 captions; per-caption numbers are also reported. ``in_domain`` is the ``test`` split
(default visuals, seeds disjoint from training and validation); ``shifted`` renders every
episode with ``VisualConfig.shifted(seed)`` and is never used for training or calibration.
"""
from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from perception.captions import CAPTIONS

FIG10_SIZES: tuple[int, ...] = (100, 300, 1000, 2000)


def precision_recall(pred: np.ndarray, truth: np.ndarray) -> dict[str, float | int]:
    """Precision, recall and counts of boolean decisions (precision is 1.0 with no detection)."""
    p, t = pred.astype(bool), truth.astype(bool)
    tp, fp, fn = int((p & t).sum()), int((p & ~t).sum()), int((~p & t).sum())
    return {"precision": tp / (tp + fp) if tp + fp else 1.0,
            "recall": tp / (tp + fn) if tp + fn else 1.0,
            "tp": tp, "fp": fp, "fn": fn, "support": int(t.sum())}


def evaluate_scores(scores: np.ndarray, labels: np.ndarray, gamma: float) -> dict[str, Any]:
    """Overall (micro) and per-caption precision/recall of ``scores >= gamma``; (N, 9) inputs."""
    pred = scores >= gamma
    return {"overall": precision_recall(pred, labels),
            "per_caption": {c: precision_recall(pred[:, k], labels[:, k])
                            for k, c in enumerate(CAPTIONS)}}


def evaluate_detector(det: Any, frames: Any) -> dict[str, Any]:
    """Metrics of ``det`` on a FrameSet: overall, per caption, per frame kind, per camera rule."""
    emb = det.image_embeddings(frames.frames)  # (N, C, E)
    scores = det.scores_from_embeddings(emb, CAPTIONS)  # (N, 9), the detector's camera rule
    out = evaluate_scores(scores, frames.labels, det.gamma)
    kinds = np.array([r["kind"] for r in frames.records])
    out["per_kind"] = {k: precision_recall(scores[kinds == k] >= det.gamma, frames.labels[kinds == k])
                       for k in sorted(set(kinds.tolist()))}
    per_view = np.einsum("nce,ke->nck", emb, det.text_embeddings(CAPTIONS))  # (N, C, 9)
    rules = {"mean (used)": per_view.mean(1), "min": per_view.min(1), "max": per_view.max(1)}
    rules.update({f"camera {c} only": per_view[:, c] for c in range(per_view.shape[1])})
    out["camera_rules"] = {name: precision_recall(s >= det.gamma, frames.labels)
                           for name, s in rules.items()}
    out["frames"] = len(frames)
    return out


def eval_splits(test_pairs: int = 600, shifted_pairs: int = 600, seed: int = 0,
                workers: int = 2, progress: bool = True) -> dict[str, Any]:
    """The held-out in-domain (test) and shifted splits (generated and cached on first use)."""
    from perception.dataset import GenConfig, ensure_split, load_split
    from perception.loader import data_root

    out = {}
    for name, split, n in (("in_domain", "test", test_pairs), ("shifted", "shifted", shifted_pairs)):
        path = ensure_split(data_root(), GenConfig(split=split, n_frames=n, seed=seed),
                            workers=workers, progress=progress)
        out[name] = load_split(path)
    return out


def summary(det: Any, splits: dict[str, Any]) -> dict[str, Any]:
    """The ``langstack perception eval`` result: overall numbers plus the full breakdown."""
    result: dict[str, Any] = {}
    details: dict[str, Any] = {}
    for name, fs in splits.items():
        ev = evaluate_detector(det, fs)
        result[name] = {"precision": ev["overall"]["precision"], "recall": ev["overall"]["recall"],
                        "frames": ev["frames"]}
        details[name] = ev
    result["train_pairs"] = det.meta.get("train_pairs")
    result["gamma"] = det.gamma
    result["model"] = det.spec.name
    result["weights"] = det.spec.source
    result["camera_rule"] = det.camera_rule
    result["details"] = details
    return result


# ---------------------------------------------------------------------------- Fig. 10
def fig10_sweep(sizes: Sequence[int] = FIG10_SIZES, splits: dict[str, Any] | None = None,
                build_cfg: Any = None, progress: bool = True,
                reuse: dict[int, Any] | None = None,
                say: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """Precision/recall vs training-set size: one detector per size, same recipe otherwise.

    Every size gets the same number of optimisation steps as the default recipe (so small
    sets are seen for more epochs); validation, calibration and test frames are shared.
    ``reuse`` maps a size to an already trained detector of the same recipe.
    """
    from perception.dataset import ensure_split, load_split
    from perception.loader import BuildConfig, data_root, fresh_model, split_config
    from perception.train import train_detector

    cfg = build_cfg or BuildConfig()
    splits = splits or eval_splits(progress=progress)
    big = max(max(sizes), cfg.train_pairs)
    train = load_split(ensure_split(data_root(), split_config(cfg, "train", big),
                                    workers=cfg.workers, progress=progress))
    val = load_split(ensure_split(data_root(), split_config(cfg, "val"),
                                  workers=cfg.workers, progress=progress))
    base_steps = cfg.train.epochs * max(1, cfg.train_pairs // cfg.train.batch_size)
    rows = []
    for n in sorted(sizes):
        t0 = time.perf_counter()
        if reuse and n in reuse:
            det = reuse[n]
        else:
            steps_per_epoch = max(1, n // min(cfg.train.batch_size, n))
            tcfg = replace(cfg.train, epochs=max(1, round(base_steps / steps_per_epoch)))
            model, spec = fresh_model(cfg)
            det = train_detector(model, spec, train.subset(slice(0, n)), val, tcfg,
                                 progress=progress)
        row: dict[str, Any] = {"train_pairs": n, "gamma": det.gamma}
        for name, fs in splits.items():
            s = det.scores(fs.frames, CAPTIONS)
            ov = evaluate_scores(s, fs.labels, det.gamma)["overall"]
            row[name] = {"precision": ov["precision"], "recall": ov["recall"]}
        row["seconds"] = round(time.perf_counter() - t0, 1)
        if say:
            say(f"fig10: {n} pairs: in-domain P={row['in_domain']['precision']:.3f} "
                f"R={row['in_domain']['recall']:.3f}; shifted P={row['shifted']['precision']:.3f} "
                f"R={row['shifted']['recall']:.3f}")
        rows.append(row)
    return rows


def fig10_report(det: Any, splits: dict[str, Any], sizes: Sequence[int],
                 docs_dir: str | os.PathLike, notes: str = "", progress: bool = True,
                 say: Callable[[str], None] | None = None,
                 details: dict[str, Any] | None = None) -> dict[str, Any]:
    """Fig. 10 with the default recipe: :func:`fig10_sweep` over ``sizes`` (``det`` reused for
    its own size when it is the cached default), written by :func:`write_fig10` into
    ``docs_dir``; returns the rows and the files."""
    from perception.loader import BuildConfig, default_detector_dir

    cfg = BuildConfig()
    reuse = {}
    if Path(det.meta.get("path", "")) == default_detector_dir():
        reuse[det.meta["train_pairs"]] = det
    rows = fig10_sweep(sizes, splits, cfg, progress=progress, reuse=reuse, say=say)
    md, png = write_fig10(rows, docs_dir, meta={
        "target_precision": cfg.train.target_precision,
        "in_domain_frames": len(splits["in_domain"]), "shifted_frames": len(splits["shifted"]),
        "notes": notes}, details=details)
    return {"rows": rows, "table": str(md), "plot": str(png)}


def write_fig10(rows: list[dict[str, Any]], docs_dir: str | os.PathLike,
                meta: dict[str, Any] | None = None,
                details: dict[str, Any] | None = None) -> tuple[Path, Path]:
    """Write ``fig10.md`` (table) and ``fig10.png`` (plot) into ``docs_dir``.

    ``details`` (a :func:`summary` result) adds the default detector's per-caption, per-frame-kind
    and camera-rule breakdown.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    docs = Path(docs_dir)
    docs.mkdir(parents=True, exist_ok=True)
    xs = [r["train_pairs"] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for split, style in (("in_domain", "-"), ("shifted", "--")):
        for metric, marker in (("precision", "o"), ("recall", "s")):
            ax.plot(xs, [r[split][metric] for r in rows], style, marker=marker,
                    label=f"{split.replace('_', '-')} {metric}")
    ax.set_xscale("log")
    ax.set_xticks(xs, [str(x) for x in xs])
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("training pairs (frames with their caption sets)")
    ax.set_ylabel("precision / recall at calibrated gamma")
    ax.set_title("Detector quality vs training-set size (cf. paper Fig. 10)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    png = docs / "fig10.png"
    fig.savefig(png)
    plt.close(fig)

    meta = meta or {}
    lines = [
        "# Fig. 10: detector precision and recall vs training-set size",
        "",
        "Generated by `langstack perception eval --fig10` (the command, its timings and the "
        "machine are at the end). A *pair* is one simulator frame (both 128x128 camera views) with "
        "its multi-label caption set: 9 binary labels read off the simulator's ground-truth "
        "predicates. Each detector below is the embedded-default recipe trained on the first N "
        "pairs of the same training split, with the same number of optimisation steps for every N; "
        "gamma is calibrated on the same validation split (the smallest threshold for which the "
        "95% lower confidence bound of the validation precision is >= "
        f"{meta.get('target_precision', 0.99)}). Precision and recall count every "
        "(frame, caption) decision over all 9 captions. In-domain: held-out episodes with other "
        f"seeds ({meta.get('in_domain_frames', '?')} frames); shifted: moved cameras, other light "
        f"and table colour, cube size and shade jitter ({meta.get('shifted_frames', '?')} frames, "
        "never used for training or calibration).",
        "",
        "| train pairs | gamma | in-domain precision | in-domain recall | shifted precision | shifted recall | seconds |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['train_pairs']} | {r['gamma']:.3f} | {r['in_domain']['precision']:.3f} | "
                     f"{r['in_domain']['recall']:.3f} | {r['shifted']['precision']:.3f} | "
                     f"{r['shifted']['recall']:.3f} | {r.get('seconds', 0):.0f} |")
    lines += ["", "![precision and recall vs training pairs](fig10.png)", ""]
    if details:
        lines += _details_markdown(details)
    if meta.get("notes"):
        lines += [meta["notes"], ""]
    md = docs / "fig10.md"
    md.write_text("\n".join(lines))
    return md, png


def _details_markdown(result: dict[str, Any]) -> list[str]:
    """Per-caption, per-kind and camera-rule tables of one detector's evaluation."""
    d = result["details"]
    out = [f"## The default detector in detail ({result['train_pairs']} pairs, "
           f"gamma = {result['gamma']:.3f})", "",
           "| caption | in-domain P | in-domain R | n | shifted P | shifted R | n |",
           "|---|---:|---:|---:|---:|---:|---:|"]
    for c in CAPTIONS:
        a, b = d["in_domain"]["per_caption"][c], d["shifted"]["per_caption"][c]
        out.append(f"| {c} | {a['precision']:.3f} | {a['recall']:.3f} | {a['support']} | "
                   f"{b['precision']:.3f} | {b['recall']:.3f} | {b['support']} |")
    out += ["", "By frame kind (reset: scattered cubes; pick/place: after the primitive; "
            "mid-pick/mid-place: rendered during it):", "",
            "| frame kind | in-domain P | in-domain R | positives | shifted P | shifted R | positives |",
            "|---|---:|---:|---:|---:|---:|---:|"]
    for k in d["in_domain"]["per_kind"]:
        a = d["in_domain"]["per_kind"][k]
        b = d["shifted"]["per_kind"].get(k, {"precision": float("nan"), "recall": float("nan"), "support": 0})
        out.append(f"| {k} | {a['precision']:.3f} | {a['recall']:.3f} | {a['support']} | "
                   f"{b['precision']:.3f} | {b['recall']:.3f} | {b['support']} |")
    out += ["", "Camera rules at the same gamma (the detector uses the mean of the two views' "
            "cosines):", "",
            "| rule | in-domain P | in-domain R | shifted P | shifted R |", "|---|---:|---:|---:|---:|"]
    for rule in d["in_domain"]["camera_rules"]:
        a, b = d["in_domain"]["camera_rules"][rule], d["shifted"]["camera_rules"][rule]
        out.append(f"| {rule} | {a['precision']:.3f} | {a['recall']:.3f} | "
                   f"{b['precision']:.3f} | {b['recall']:.3f} |")
    return out + [""]
