"""The table, figure and summary of ``langstack reproduce peers`` from its runs' eval records.

Per task and agent: success at every grid point pooled over seeds (with its 95% Wilson
interval) and per seed (the figure's band: the seeds' range); env steps to 50% and 90% per
seed, their mean with a 95% Student-t interval over seeds (when every seed got there); the
best pooled success with its interval; wall time per run.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from experiments.collect_infer.stats import wilson
from experiments.paper.peers_runs import steps_to, success_at

T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
       9: 2.262, 10: 2.228, 15: 2.131, 20: 2.086, 30: 2.042}
"""Two-sided 95% Student-t quantiles by degrees of freedom (larger: the next listed below)."""


def t95(df: int) -> float:
    """The 95% Student-t quantile for ``df`` >= 1 degrees of freedom (conservative between
    listed values; 1.96 beyond 30)."""
    if df > 30:
        return 1.96
    return T95[min(k for k in T95 if k >= df)]


def steps_summary(values: list[int | None], budget: int) -> dict[str, Any]:
    """Steps to a rate over seeds: per seed (None: not within ``budget``), how many got there,
    and their mean with a 95% t interval over seeds when all did (one seed: no interval)."""
    reached = [v for v in values if v is not None]
    out: dict[str, Any] = {"per_seed": values, "reached": len(reached), "seeds": len(values),
                           "mean": None, "ci95": None, "min": min(reached, default=None),
                           "max": max(reached, default=None), "budget": budget}
    if reached and len(reached) == len(values):
        mean = float(np.mean(reached))
        out["mean"] = mean
        if len(reached) > 1:
            half = t95(len(reached) - 1) * float(np.std(reached, ddof=1)) / math.sqrt(len(reached))
            out["ci95"] = [max(0.0, mean - half), mean + half]
    return out


def curve_summary(runs: list[dict[str, Any]], grid: tuple[int, ...]) -> list[dict[str, Any]]:
    """Per grid point: pooled successes over the seeds' runs, Wilson interval, per-seed rates
    (a run not there yet is left out)."""
    rows = []
    for point in grid:
        recs = [success_at(r["records"], point) for r in runs]
        recs = [r for r in recs if r is not None]
        k, n = sum(r["successes"] for r in recs), sum(r["episodes"] for r in recs)
        rows.append({"point": point, "successes": k, "episodes": n,
                     "rate": k / n if n else None, "wilson95": list(wilson(k, n)),
                     "per_seed": [r["successes"] / r["episodes"] for r in recs]})
    return rows


def agent_summary(runs: list[dict[str, Any]], grid: tuple[int, ...], budget: int) -> dict[str, Any]:
    """Everything the table and figure say about one agent on one task."""
    curve = curve_summary(runs, grid)
    scored = [c for c in curve if c["episodes"]]
    best = max(scored, key=lambda c: (c["rate"], -c["point"]), default=None)
    last = scored[-1] if scored else None
    return {"seeds": len(runs), "curve": curve,
            "steps_to_50": steps_summary([steps_to(r["records"], 0.5) for r in runs], budget),
            "steps_to_90": steps_summary([steps_to(r["records"], 0.9) for r in runs], budget),
            "best": _rate_of(best), "final": _rate_of(last),
            "env_steps": [r["records"][-1]["env_steps"] if r["records"] else 0 for r in runs],
            "wall_s": [round(r["wall_s"], 1) for r in runs],
            "settings": runs[0]["settings"] if runs else {}}


def _rate_of(row: dict[str, Any] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {"point": row["point"], "rate": row["rate"], "successes": row["successes"],
            "episodes": row["episodes"], "wilson95": row["wilson95"]}


def _steps_cell(s: dict[str, Any]) -> str:
    if s["mean"] is None:
        where = f" (seeds that did: {s['min']}-{s['max']})" if s["reached"] else ""
        return f"{s['reached']}/{s['seeds']} within {s['budget']:,}{where}"
    if s["ci95"] is None:
        return f"{s['mean']:,.0f}"
    return f"{s['mean']:,.0f} [{s['ci95'][0]:,.0f}, {s['ci95'][1]:,.0f}]"


def _rate_cell(r: dict[str, Any] | None) -> str:
    if r is None:
        return "n/a"
    lo, hi = r["wilson95"]
    return (f"{r['rate']:.2f} [{lo:.2f}, {hi:.2f}] ({r['successes']}/{r['episodes']}, "
            f"@{r['point']:,})")


def table_markdown(summary: dict[str, Any], labels: dict[str, str], command: str) -> str:
    """The markdown table of ``summary`` (one row per task and agent), the settings and the
    tuning that was tried."""
    lines = ["# Side by side with the learners people pick instead", "", f"Command: `{command}`",
             "", f"Each run: horizon {summary['horizon']}, greedy success on "
             f"{summary['eval_episodes']} fresh scenes (sim.seeds.PEERS, block = run seed) at "
             "every grid point; early stop at "
             f"{summary['target_success']} when as many confirmation scenes agree. Steps: "
             "mean over seeds [95% t interval]; success: pooled over seeds [95% Wilson].", "",
             "| task | agent | seeds | steps to 50% | steps to 90% | best success | "
             "success at the end | wall s per run |", "|---|---|---|---|---|---|---|---|"]
    for task in summary["tasks"]:
        for agent, a in task["agents"].items():
            wall = f"{np.mean(a['wall_s']):,.0f}" if a["wall_s"] else "n/a"
            lines.append(f"| {task['label']} | {labels.get(agent, agent)} | {a['seeds']} | "
                         f"{_steps_cell(a['steps_to_50'])} | {_steps_cell(a['steps_to_90'])} | "
                         f"{_rate_cell(a['best'])} | {_rate_cell(a['final'])} | {wall} |")
    lines += ["", "## Settings", ""]
    for key, text in summary["settings_notes"].items():
        lines.append(f"- {key}: {text}")
    for task in summary["tasks"]:
        for agent, a in task["agents"].items():
            if a["settings"]:
                lines.append(f"- {task['label']} / {agent}: `{a['settings']}`")
    if summary.get("tuning"):
        lines += ["", "## Tuning (the same candidates count and env steps for every peer)", "",
                  "| task | agent | candidate | env steps | mean success over the grid | "
                  "chosen |", "|---|---|---|---|---|---|"]
        for t in summary["tuning"]:
            lines.append(f"| {t['task']} | {t['agent']} | `{t['settings']}` | {t['budget']:,} | "
                         f"{t['score']:.3f} | {'yes' if t['chosen'] else ''} |")
    return "\n".join(lines) + "\n"


COLORS = {"framework-clip": "tab:blue", "framework-oracle": "tab:cyan", "tqc-her": "tab:red",
          "ppo": "tab:orange", "random": "tab:gray"}


def plot(summary: dict[str, Any], labels: dict[str, str], path: Any) -> None:
    """Success vs env steps, one panel per task: the pooled rate per agent, a band from the
    seeds' lowest to highest rate."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    tasks = summary["tasks"]
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.6 * len(tasks), 3.8), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        for agent, a in task["agents"].items():
            rows = [c for c in a["curve"] if c["episodes"]]
            if not rows:
                continue
            xs = [c["point"] for c in rows]
            color = COLORS.get(agent)
            ax.plot(xs, [c["rate"] for c in rows], color=color, label=labels.get(agent, agent),
                    marker="o", markersize=2.5)
            ax.fill_between(xs, [min(c["per_seed"]) for c in rows],
                            [max(c["per_seed"]) for c in rows], color=color, alpha=0.18)
        ax.set_xscale("symlog", linthresh=100)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:,.0f}"))
        ax.set_xlabel("env steps")
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(task["label"])
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("greedy success")
    axes[0][-1].legend(fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
