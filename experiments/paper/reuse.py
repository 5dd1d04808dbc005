"""``langstack reproduce reuse``: the paper's Fig. 7 (lifelong data reuse, Sec. 5.2).

Per seed, Stack red on blue, then blue on green, then green on red are learned in sequence;
each later task imports the episodes of the earlier tasks of the same seed (re-scored by the
current detector against its own sub-goals, :mod:`experiments.collect_infer.reuse`) into a freshly
initialised policy. The same later tasks are also learned from scratch. The first task has
nothing earlier to reuse: its one run is both. Runs go to
``<out>/runs/<task>__{reuse,scratch}__<seed>/`` and are read back when finished and resumed when
interrupted (:func:`experiments.paper.exploration.run_one`). Measured: env steps to 50% greedy success
on the learning curve.

Every run collects with the paper's agent by default: exploring, the policy acts even with a
wrong cube in hand (``set_down_exploring=False``, greedy acting unchanged). With the free-spot
set-down rule while exploring, the earlier tasks' data held 0-1 placements of the third task's
cube and reuse did not speed that task up (docs/results.md).

Each run stops early at the target success, so how much data an earlier task leaves in the
buffer depends on how fast that seed learned it. ``earlier_steps`` (``--earlier-steps``) makes
the runs that feed the buffer keep collecting to a fixed volume instead, as a lifelong agent
that does not stop at a task's first success would; the measured steps to 50% are read off
the same curves. Writes ``reuse.md`` (table), ``fig7.png`` (grouped bars) and ``reuse.json``.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from experiments.collect_infer.stats import ratio_of_medians
from experiments.paper.exploration import (
    ExplorationTask, explore_held, run_one, steps_summary,
)
from experiments.paper.grid import protocol_text
from experiments.paper.tables import fmt_median, fmt_number, fmt_steps
from sim.tasks import stack_task

REUSE_TASKS: tuple[ExplorationTask, ...] = tuple(
    ExplorationTask(stack_task(x, y).instruction, f"Stack {x} on {y}", 10_000)
    for x, y in (("red", "blue"), ("blue", "green"), ("green", "red")))
"""The sequence, each with a 10k env-step budget, evaluated on the shared grid (~10% apart:
Stack from scratch reaches 50% around 1k steps, read within ~100)."""
VARIANTS: tuple[str, ...] = ("with_reuse", "scratch")
EARLIER_STEPS = 3_000
"""Env steps the runs feeding the lifelong buffer collect at least: the slowest early stop of
the first task seen over 5 seeds (2,491 steps), rounded up, so that no seed's buffer is cut
short by how fast it learned (docs/results.md tells how it was chosen)."""


def run_sequence(seed: int, out: Path, tasks: tuple[ExplorationTask, ...],
                 run: Callable[..., dict[str, Any]]) -> list[dict[str, dict[str, Any]]]:
    """One seed: per task ``{"with_reuse": result, "scratch": result}``; ``run`` is
    :func:`run_one` with the shared settings bound (task, seed, root, reuse_from, variant,
    feeds: whether later tasks import the run's episodes)."""
    buffer: list[str] = []  # the lifelong buffer: the run dirs of the earlier tasks
    results = []
    for i, task in enumerate(tasks):
        feeds = i < len(tasks) - 1
        scratch = run(task, seed, out, reuse_from=(), variant="scratch",
                      feeds=feeds and not buffer)
        reuse = scratch if not buffer else run(task, seed, out, reuse_from=tuple(buffer),
                                                variant="reuse", feeds=feeds)
        buffer.append(str(Path(reuse["run_dir"]).resolve()))
        results.append({"with_reuse": reuse, "scratch": scratch})
    return results


def imported_steps(run_dir: str) -> int:
    """Steps a run imported from earlier tasks (its last ``reuse`` record; 0 if none)."""
    from experiments.collect_infer.rundir import RunDir

    records = RunDir(Path(run_dir)).records("reuse")
    return int(records[-1]["imported_steps"]) if records else 0


def summarise(per_seed: list[list[dict[str, dict[str, Any]]]], tasks: tuple[ExplorationTask, ...],
              detector: str, held: str = "policy", earlier_steps: int = 0,
              first_seed: int = 0) -> dict[str, Any]:
    """The Fig. 7 table: steps to 50% with reuse and from scratch, per task (medians over
    seeds, their ratio with a bootstrap interval);
    ``held``: the runs' ``--explore-held`` choice; ``earlier_steps``: the env steps the runs
    feeding the lifelong buffer collected at least (``--earlier-steps``)."""
    rows = []
    for i, task in enumerate(tasks):
        entry: dict[str, Any] = {"task": task.instruction, "label": task.label}
        for variant in VARIANTS:
            entry[variant] = steps_summary([seed_runs[i][variant] for seed_runs in per_seed])
        entry["with_reuse"]["imported_steps"] = [
            imported_steps(seed_runs[i]["with_reuse"]["run_dir"]) for seed_runs in per_seed]
        entry["steps_to_50_with_reuse"] = entry["with_reuse"]["median_steps_to_50"]
        entry["steps_to_50_scratch"] = entry["scratch"]["median_steps_to_50"]
        entry["ratio"] = ratio_of_medians(entry["with_reuse"]["steps_to_50"],
                                          entry["scratch"]["steps_to_50"])
        rows.append(entry)
    return {"tasks": rows, "detector": detector, "seeds": len(per_seed),
            "first_seed": first_seed, "explore_held": held, "earlier_steps": earlier_steps}


def run_reuse(seeds: int, out: Path, detector: str = "clip", budget_scale: float = 1.0,
              tasks: tuple[ExplorationTask, ...] = REUSE_TASKS, target_success: float = 0.95,
              progress: bool = True, say: Callable[[str], None] = print,
              detector_path: str | None = None, final_eval_episodes: int = 100,
              set_down_exploring: bool = False, earlier_steps: int = EARLIER_STEPS,
              first_seed: int = 0) -> dict[str, Any]:
    """Every run of seeds ``first_seed`` .. ``first_seed + seeds - 1``, then the table, the
    figure and the JSON under ``out``; returns the summary. ``earlier_steps``: the runs whose
    episodes later tasks import keep collecting until at least that many env steps (capped
    by the budget), also after the early-stop target."""
    out.mkdir(parents=True, exist_ok=True)

    def run(task: ExplorationTask, seed: int, root: Path, reuse_from: tuple[str, ...],
            variant: str, feeds: bool) -> dict[str, Any]:
        keep = min(earlier_steps, int(task.budget * budget_scale)) if feeds else 0
        return run_one(task, "framework", seed, root, detector, target_success, budget_scale,
                       progress, say, detector_path, final_eval_episodes, reuse_from, variant,
                       set_down_exploring, keep)

    per_seed = [run_sequence(s, out, tasks, run) for s in range(first_seed, first_seed + seeds)]
    summary = summarise(per_seed, tasks, detector, explore_held(set_down_exploring),
                        earlier_steps, first_seed)
    plot_fig7(summary, out / "fig7.png")
    (out / "reuse.json").write_text(json.dumps({"summary": summary, "runs": per_seed}, indent=1))
    (out / "reuse.md").write_text(table_markdown(summary))
    return summary


def plot_fig7(summary: dict[str, Any], path: Path) -> None:
    """Grouped bars per task: mean steps to 50% with reuse vs from scratch, dots per seed.
    A bar that not every seed reached is drawn hatched at the budget."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = summary["tasks"]
    fig, ax = plt.subplots(figsize=(1.2 + 2.2 * len(rows), 3.8))
    width = 0.38
    for k, (variant, color, label) in enumerate(
            zip(VARIANTS, ("tab:green", "tab:gray"), ("with reuse", "from scratch"))):
        for i, row in enumerate(rows):
            entry, x = row[variant], i + (k - 0.5) * width
            mean = entry["median_steps_to_50"]
            ax.bar(x, entry["budget"] if mean is None else mean, width, color=color,
                   hatch="//" if mean is None else None, alpha=0.5 if mean is None else 0.9,
                   label=label if i == 0 else None)
            if mean is not None:  # the median as text: a bar at 0 is otherwise invisible
                ax.annotate(f"{mean:.0f}", (x, mean), ha="center", va="bottom", fontsize=8,
                            xytext=(0, 2), textcoords="offset points")
            seeds = [s if s is not None else entry["budget"] for s in entry["steps_to_50"]]
            ax.scatter([x] * len(seeds), seeds, color="black", s=10, zorder=3)
    if any(r[v]["median_steps_to_50"] is None for r in rows for v in VARIANTS):
        ax.bar(0, 0, 0, color="white", edgecolor="black", hatch="//",
               label="median not reached (bar: budget)")
    ax.set_xticks(range(len(rows)), [r["label"] for r in rows])
    ax.set_ylabel("env steps to 50% success")
    kept = (f", earlier tasks >= {summary['earlier_steps']} steps"
            if summary.get("earlier_steps") else "")
    ax.set_title(f"Lifelong data reuse (cf. paper Fig. 7); {summary['seeds']} seed(s), "
                 f"{summary['detector']} detector{kept}", fontsize=9)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def table_markdown(summary: dict[str, Any]) -> str:
    """The Fig. 7 table as markdown."""
    lines = ["| task | with reuse: steps to 50% (per seed) | median [IQR] | steps imported | "
             "from scratch: steps to 50% (per seed) | median [IQR] | reuse / scratch [95%] |",
             "|---|---|---:|---|---|---:|---:|"]
    for r in summary["tasks"]:
        reuse, scratch = r["with_reuse"], r["scratch"]
        lines.append(
            f"| {r['label']} | {fmt_steps(reuse)} | {fmt_median(reuse)} | "
            f"{', '.join(map(str, reuse['imported_steps']))} | {fmt_steps(scratch)} | "
            f"{fmt_median(scratch)} | {_fmt_ratio(r['ratio'])} |")
    lines += ["", f"Detector: {summary['detector']}; {summary['seeds']} seed(s). The first task "
              "has nothing earlier to reuse (one run serves both columns); each later task "
              "imports the re-scored episodes of the earlier ones into fresh policy weights. "
              f"Exploring with a wrong cube in hand: {summary['explore_held']} "
              "(--explore-held). " + _kept_line(summary), "",
              f"Protocol: {protocol_text()}.", ""]
    return "\n".join(lines)


def _kept_line(summary: dict[str, Any]) -> str:
    steps = summary.get("earlier_steps", 0)
    if not steps:
        return "Every run stopped at the early-stop target (--earlier-steps 0)."
    return (f"The runs whose episodes later tasks import collected at least {steps} env steps "
            "each, also after reaching the early-stop target (--earlier-steps).")


def _fmt_ratio(ratio: dict[str, Any]) -> str:
    if ratio["ratio"] is None:
        return "—"
    lo, hi = ratio["ci95"]
    return f"{ratio['ratio']:.2f}x [{fmt_number(lo)}, {fmt_number(hi)}]"
