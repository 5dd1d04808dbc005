"""``langstack reproduce scheduling``: a trained multi-skill policy runs new instructions.

Skill scheduling (the paper's Sec. 5.3): the planner decomposes each instruction into sub-goal
captions and the policy pursues each until the detector confirms it, then the next. The
default instructions are mostly three-cube tasks, which a policy trained on the two-cube
stacks (``langstack train --task ... --also ...``) never saw as tasks; the result table marks
any instruction that asks for the same goals as a training task.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

SCHEDULING_INSTRUCTIONS: tuple[str, ...] = (
    "stack all three objects",
    "stack the red object on the blue object and then the green object on the red object",
    "stack the blue object on the green object and then the red object on the blue object",
    "stack the green object on the red object and then the blue object on the green object",
    "stack the green object on the red object",
)


def run_scheduling(run_dir: Path, instructions: tuple[str, ...], episodes: int, out: Path,
                   seed: int = 12345, progress: bool = True,
                   say: Callable[[str], None] = print) -> dict[str, Any]:
    """Success rate of ``run_dir``'s policy on each instruction; writes scheduling.md/.json/.png."""
    from experiments.collect_infer.evaluate import evaluate_run, planner_that_ran
    from sim.seeds import RUN

    out.mkdir(parents=True, exist_ok=True)
    trained = _trained_tasks(run_dir)
    planner = planner_that_ran(run_dir)  # the planner that made the run's plans
    rows = []
    for instruction in instructions:
        r = evaluate_run(run_dir, instruction, episodes, seed, progress=progress, seed_range=RUN)
        rows.append({"instruction": instruction, "plan": r["plan"], "episodes": episodes,
                     "success_rate": r["success_rate"],
                     "trained_as_task": _same_task(instruction, trained, planner)})
        say(f"{instruction!r}: {r['success_rate']:.2f}")
    summary = {"run_dir": str(run_dir), "episodes": episodes, "instructions": rows,
               "min_success_rate": min(r["success_rate"] for r in rows)}
    (out / "scheduling.json").write_text(json.dumps(summary, indent=1))
    (out / "scheduling.md").write_text(table_markdown(summary, trained))
    plot_scheduling(rows, out / "scheduling.png")
    return summary


def _trained_tasks(run_dir: Path) -> set[str]:
    train = json.loads((run_dir / "config.json").read_text())["train"]
    return {train["task"], *train.get("also", ())}


def _same_task(instruction: str, trained: set[str], planner: str) -> bool:
    """Whether ``instruction`` asks for the same goal as a trained instruction, as the run's
    planner reads both (so "on the red object" and "on top of the red object" are one task)."""
    from experiments.collect_infer.tasks import task_for

    def goal(text: str) -> tuple[frozenset[str], bool]:
        task = task_for(text, planner)
        return frozenset(task.goals), task.triple

    return any(goal(t) == goal(instruction) for t in trained)


def table_markdown(summary: dict[str, Any], trained: set[str]) -> str:
    """The result table, with the policy's training tasks."""
    lines = [f"Policy: `{summary['run_dir']}`, trained on: " + "; ".join(sorted(trained)), "",
             "| instruction | sub-goals | trained as a task | success |", "|---|---:|---|---:|"]
    for r in summary["instructions"]:
        lines.append(f"| {r['instruction']} | {len(r['plan'])} | "
                     f"{'yes' if r['trained_as_task'] else 'no'} | {r['success_rate']:.2f} |")
    lines.append(f"\nGreedy episodes per instruction: {summary['episodes']} (fresh scenes).")
    return "\n".join(lines) + "\n"


def plot_scheduling(rows: list[dict[str, Any]], path: Path) -> None:
    """Horizontal bars: success per instruction."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 0.6 * len(rows) + 1.2))
    labels = [r["instruction"].replace(" and then ", "\nthen ") for r in rows]
    ax.barh(range(len(rows)), [r["success_rate"] for r in rows],
            color=["tab:gray" if r["trained_as_task"] else "tab:blue" for r in rows])
    ax.set_yticks(range(len(rows)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.axvline(0.9, color="k", ls="--", lw=0.8)
    ax.set_xlim(0, 1)
    ax.set_xlabel("success rate (greedy; grey: trained as a task)")
    ax.set_title("Skill scheduling on new instructions")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
