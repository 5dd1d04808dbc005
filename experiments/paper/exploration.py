"""``langstack reproduce exploration``: the paper's Fig. 4 and Fig. 5.

For each task (Grasp red, Stack red on blue, Triple Stack), each agent (framework, baseline)
and each seed, one Collect & Infer run (:func:`experiments.collect_infer.loop.train`) under
``<out>/runs/<task>__<agent>__<seed>/``, every agent under one protocol (:mod:`.grid`): the
task's env-step budget, the same grid of eval points (~10% apart) with the same fresh scenes
per point, the same early stop, and no scripted set-down while evaluating. A run already finished there is read back, an
interrupted one is resumed, so the command can be stopped and started again. Then:

- Fig. 4: learning curves (greedy success vs env steps), framework vs baseline, per task;
- Fig. 5: env steps to 50% success vs the task's sparseness (random-policy env steps per
  success, measured in the simulator by :mod:`experiments.paper.sparsity`);
- ``exploration.md``: the table behind both, with the command.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from experiments.paper.grid import EVAL_EPISODES, GREEDY_SET_DOWN, default_grid, protocol_text
from experiments.paper.tables import fmt_median, fmt_number, fmt_pooled, fmt_steps


@dataclass(frozen=True)
class ExplorationTask:
    """One task of the experiment with the env-step budget of every agent's runs."""

    instruction: str
    label: str
    budget: int
    """Env steps every agent may spend (a run stops early at the target success)."""

    def grid(self, budget_scale: float = 1.0) -> tuple[int, ...]:
        """The eval points of every agent's runs: :func:`experiments.paper.grid.default_grid`
        of the (scaled) budget."""
        return default_grid(self.scaled_budget(budget_scale))

    def scaled_budget(self, budget_scale: float = 1.0) -> int:
        """The budget times ``budget_scale`` (at least 1 env step)."""
        return max(1, int(self.budget * budget_scale))


EXPLORATION_TASKS: tuple[ExplorationTask, ...] = (
    ExplorationTask("grasp the red object", "Grasp red", 3_000),
    ExplorationTask("stack the red object on top of the blue object", "Stack red on blue", 20_000),
    ExplorationTask("stack all three objects", "Triple Stack", 50_000),
)
AGENTS: tuple[str, ...] = ("framework", "baseline")


def explore_held(set_down_exploring: bool) -> str:
    """The ``--explore-held`` choice of a ``TrainConfig.set_down_exploring`` value."""
    return "set-down" if set_down_exploring else "policy"


def run_one(task: ExplorationTask, agent: str, seed: int, root: Path, detector: str,
            target_success: float, budget_scale: float, progress: bool,
            say: Callable[[str], None], detector_path: str | None = None,
            final_eval_episodes: int = 100, reuse_from: tuple[str, ...] = (),
            variant: str | None = None, set_down_exploring: bool = True,
            min_env_steps: int = 0, eval_episodes: int = EVAL_EPISODES) -> dict[str, Any]:
    """One run (or its stored result): curve, final eval and steps to 50%, evaluated on the
    task's grid with ``eval_episodes`` fresh scenes per point (and as many to confirm an early
    stop), the learned policy alone (:data:`experiments.paper.grid.GREEDY_SET_DOWN`).

    ``reuse_from``: earlier runs whose episodes are imported (lifelong data reuse);
    ``variant`` names the run directory in place of the agent (e.g. "reuse", "scratch");
    ``min_env_steps``: no early stop before that many env steps. A stored run made with a
    smaller one that stopped short of it is resumed until it has them.
    """
    from experiments.collect_infer.config import TrainConfig
    from experiments.collect_infer.rundir import RunDir, task_slug
    from experiments.paper.stored_runs import finished_run

    run = RunDir(root / "runs" / f"{task_slug(task.instruction)}__{variant or agent}__{seed}")
    cfg = TrainConfig(task=task.instruction, agent=agent, detector=detector, seed=seed,
                      max_env_steps=task.scaled_budget(budget_scale),
                      eval_at=task.grid(budget_scale), eval_episodes=eval_episodes,
                      confirm_episodes=eval_episodes, set_down_greedy=GREEDY_SET_DOWN,
                      target_success=target_success, video=False,
                      detector_path=detector_path,
                      final_eval_episodes=final_eval_episodes, reuse_from=reuse_from,
                      set_down_exploring=set_down_exploring, min_env_steps=min_env_steps)
    final = finished_run(cfg, run, progress, say,
                         f"{task.label} / {variant or agent} / seed {seed}")
    curve = [(r["env_steps"], r["eval_success_rate"]) for r in run.records("eval")]
    rec = final[-1]
    return {"task": task.instruction, "agent": agent, "seed": seed, "curve": curve,
            "env_steps": rec["env_steps"], "eval_success_rate": rec["eval_success_rate"],
            "steps_to_50": rec["steps_to_50"], "wall_s": rec["wall_s"], "run_dir": str(run.root),
            "final_episodes": rec.get("eval_episodes", cfg.final_eval_episodes)}


def sparseness(tasks: tuple[ExplorationTask, ...], samples: int, progress: bool) -> dict[str, float]:
    """Random-policy env steps per success of each task (Markov chain over measured stages)."""
    from experiments.collect_infer.config import TrainConfig
    from experiments.collect_infer.tasks import task_for
    from experiments.paper.sparsity import expected_steps, measure_stages

    stages = measure_stages(samples, progress=progress)
    horizon = TrainConfig.horizon  # the episodes the runs learn in
    return {t.instruction: expected_steps(task_for(t.instruction), stages, horizon)
            for t in tasks}


def run_exploration(seeds: int, out: Path, detector: str = "clip", target_success: float = 0.95,
                    budget_scale: float = 1.0, sparsity_samples: int = 200,
                    tasks: tuple[ExplorationTask, ...] = EXPLORATION_TASKS,
                    progress: bool = True, say: Callable[[str], None] = print,
                    detector_path: str | None = None, final_eval_episodes: int = 100,
                    baseline_seeds: int | None = None,
                    eval_episodes: int = EVAL_EPISODES) -> dict[str, Any]:
    """Every run, then the figures and the table under ``out``; returns the summary.
    ``baseline_seeds``: seeds 0..K-1 of the baseline (default ``seeds``); ``eval_episodes``:
    fresh scenes per eval point of every agent."""
    out.mkdir(parents=True, exist_ok=True)
    n_seeds = {"framework": seeds, "baseline": baseline_seeds or seeds}
    runs = [run_one(t, a, s, out, detector, target_success, budget_scale, progress, say,
                    detector_path, final_eval_episodes, eval_episodes=eval_episodes)
            for t in tasks for a in AGENTS for s in range(n_seeds[a])]
    sparse = sparseness(tasks, sparsity_samples, progress)
    rows = []
    for t in tasks:
        row: dict[str, Any] = {"task": t.instruction, "label": t.label,
                               "sparseness": sparse[t.instruction]}
        for a in AGENTS:
            row[a] = steps_summary([r for r in runs if r["task"] == t.instruction and r["agent"] == a])
        rows.append(row)
    from experiments.collect_infer.stats import ratio_of_medians

    first, last = rows[0]["framework"]["steps_to_50"], rows[-1]["framework"]["steps_to_50"]
    summary = {"tasks": rows, "detector": detector, "seeds": seeds,
               "baseline_seeds": n_seeds["baseline"], "protocol": protocol_text(),
               "budgets": {t.instruction: t.scaled_budget(budget_scale) for t in tasks},
               "steps_ratio_last_to_first": ratio_of_medians(last, first),
               "sparseness_ratio_last_to_first": rows[-1]["sparseness"] / rows[0]["sparseness"]}
    plot_fig4(runs, tasks, out / "fig4.png")
    plot_fig5(rows, out / "fig5.png")
    (out / "exploration.json").write_text(json.dumps({"summary": summary, "runs": runs}, indent=1))
    (out / "exploration.md").write_text(table_markdown(summary))
    return summary


def steps_summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Steps to 50% of several seeds' runs (from :func:`run_one`): per seed, their median and
    interquartile range (a seed that did not reach 50% counts as beyond the budget; None where
    a quartile falls on one), their mean (None unless every seed reached 50%), the largest env
    steps spent, the final success rates and, pooled over seeds, their Wilson 95% interval."""
    from experiments.collect_infer.stats import censored_quartiles, wilson

    steps = [r["steps_to_50"] for r in runs]
    reached = [s for s in steps if s is not None]
    q25, median, q75 = (q if np.isfinite(q) else None for q in censored_quartiles(steps))
    wins = sum(round(r["eval_success_rate"] * r["final_episodes"]) for r in runs)
    episodes = sum(r["final_episodes"] for r in runs)
    return {"steps_to_50": steps, "reached_50": len(reached), "seeds": len(runs),
            "median_steps_to_50": median, "iqr_steps_to_50": [q25, q75],
            "mean_steps_to_50": float(np.mean(reached)) if len(reached) == len(runs) else None,
            "budget": max(r["env_steps"] for r in runs),
            "final_success": [r["eval_success_rate"] for r in runs],
            "final_pooled": {"successes": wins, "episodes": episodes,
                             "wilson95": list(wilson(wins, episodes))}}


def _seed_values(curves: list[list[tuple[int, float]]]) -> tuple[np.ndarray, np.ndarray]:
    """Every eval point of any seed, and each seed's value there (points, seeds); a run that
    stopped early keeps its last value."""
    xs = sorted({x for c in curves for x, _ in c})
    vals = [[next((y for cx, y in reversed(c) if cx <= x), 0.0) for c in curves if c] for x in xs]
    return np.array(xs), np.array(vals).reshape(len(xs), -1)


def _mean_curve(curves: list[list[tuple[int, float]]]) -> tuple[np.ndarray, np.ndarray]:
    """Mean over seeds at every eval point; a run that stopped early keeps its last value."""
    xs, vals = _seed_values(curves)
    return xs, vals.mean(axis=1) if len(xs) else np.array([])


def plot_fig4(runs: list[dict[str, Any]], tasks: tuple[ExplorationTask, ...], path: Path) -> None:
    """Learning curves per task: thin lines per seed, thick the mean, a band the seeds'
    interquartile range."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(tasks), figsize=(4.2 * len(tasks), 3.6), squeeze=False)
    for ax, t in zip(axes[0], tasks):
        for agent, color in zip(AGENTS, ("tab:blue", "tab:red")):
            curves = [r["curve"] for r in runs if r["task"] == t.instruction and r["agent"] == agent]
            for c in curves:
                if c:
                    ax.plot(*zip(*c), color=color, alpha=0.25, linewidth=1)
            xs, vals = _seed_values(curves)
            if len(xs):  # the band: the seeds' interquartile range at every point
                ax.fill_between(xs, *np.percentile(vals, [25, 75], axis=1), color=color,
                                alpha=0.15, linewidth=0)
                ax.plot(xs, vals.mean(axis=1), color=color, linewidth=2,
                        label=f"{agent} (mean of {len(curves)}, IQR band)")
        ax.set_title(t.label)
        ax.set_xlabel("env steps")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("greedy success rate")
    axes[0][0].legend(fontsize=8, loc="upper left")
    fig.suptitle("Collect & Infer vs env-reward baseline (cf. paper Fig. 4)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_fig5(rows: list[dict[str, Any]], path: Path) -> None:
    """Env steps to 50% success vs sparseness, log-log, one point per seed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4))
    ys: list[float] = []
    unknown = [r["label"] for r in rows if not np.isfinite(r["sparseness"])]
    rows = [r for r in rows if np.isfinite(r["sparseness"])]  # no random success: no x
    if unknown:
        fig.text(0.01, 0.01, "no sparseness estimate (no random success sampled): "
                 + ", ".join(unknown), fontsize=7)
    for row in rows:
        entry = row["framework"]
        steps = [max(s, 1) for s in entry["steps_to_50"] if s is not None]
        missed = sum(s is None for s in entry["steps_to_50"])
        ax.scatter([row["sparseness"]] * len(steps), steps, color="tab:blue", alpha=0.6)
        if missed:  # not reached within the budget: drawn at the budget, open marker
            ax.scatter([row["sparseness"]] * missed, [entry["budget"]] * missed, marker="^",
                       facecolors="none", edgecolors="tab:blue", label=None)
        if entry["median_steps_to_50"]:
            ax.scatter([row["sparseness"]], [entry["median_steps_to_50"]], color="tab:blue",
                       marker="_", s=400)
        top = max(steps + [entry["budget"]] * bool(missed) or [1])
        ax.annotate(row["label"], (row["sparseness"], top), fontsize=8,
                    textcoords="offset points", xytext=(4, 4))
        ys += steps + [entry["budget"]] * bool(missed)
    lo = min((r["sparseness"] for r in rows), default=1.0)
    hi = max((r["sparseness"] for r in rows), default=1.0)
    ax.plot([lo, hi], [lo, hi], "k:", linewidth=1, label="steps = sparseness")
    ax.scatter([], [], marker="^", facecolors="none", edgecolors="tab:blue",
               label="not reached (at the budget)")
    ax.set_xlim(lo / 3, hi * 3)  # explicit limits: a single task or no reached run is fine
    ax.set_ylim(max(min(ys + [lo]) / 3, 0.5), max(ys + [hi]) * 3)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("sparseness (random-policy env steps per success)")
    ax.set_ylabel("env steps to 50% success (framework)")
    ax.set_title("Exploration cost vs sparseness (cf. paper Fig. 5)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def table_markdown(summary: dict[str, Any]) -> str:
    """The Fig. 4/5 table as markdown."""
    lines = ["| task | sparseness | agent | steps to 50% (per seed) | median [IQR] "
             "| final success, pooled [Wilson 95%] |", "|---|---:|---|---|---|---|"]
    for r in summary["tasks"]:
        for agent in AGENTS:
            e = r[agent]
            lines.append(f"| {r['label']} | {r['sparseness']:.3g} | {agent} | {fmt_steps(e)} | "
                         f"{fmt_median(e)} | {fmt_pooled(e['final_pooled'])} |")
    ratio = summary["steps_ratio_last_to_first"]
    shown = ("n/a (a median not reached)" if ratio["ratio"] is None else
             f"{ratio['ratio']:.1f}x (95% bootstrap over seeds "
             f"[{fmt_number(ratio['ci95'][0])}, {fmt_number(ratio['ci95'][1])}])")
    seeds = f"{summary['seeds']} seeds"
    if summary["baseline_seeds"] != summary["seeds"]:
        seeds += f" ({summary['baseline_seeds']} of the baseline)"
    lines += ["", f"Detector: {summary['detector']}; {seeds}. Median steps to 50% of "
              f"{summary['tasks'][-1]['label']} over {summary['tasks'][0]['label']} "
              f"(framework): {shown}; their sparseness ratio: "
              f"{summary['sparseness_ratio_last_to_first']:.3g}x.", "",
              f"Protocol: the same env-step budget per task for both agents; "
              f"{summary['protocol']}.", ""]
    return "\n".join(lines)
