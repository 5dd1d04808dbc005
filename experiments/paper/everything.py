"""``langstack reproduce all``: every figure of the paper from nothing, then the results page.

Steps, each into ``<out>/<step>/`` (a finished step is read back, an interrupted one resumed:
the Collect & Infer runs resume themselves, the other steps are redone):

- ``sparsity``: the random policy's env steps per success of each exploration task, measured
  directly where feasible (Grasp, Stack) beside the Markov-chain estimate;
- ``exploration``: Fig. 4 and 5 (:mod:`.exploration`), ``seeds`` seeds per task and agent;
- ``reuse``: Fig. 7 (:mod:`.reuse`), ``seeds`` seeds;
- ``fig10``: the detector's precision and recall vs its training-set size;
- ``scheduling``: per seed, one multi-skill run learns the six two-cube stacks, then executes
  the three-cube instructions it never saw as tasks (:mod:`.scheduling`);
- ``video``: one-shot imitation from shifted demo videos (:mod:`.video`), executed by the
  exploration's Triple Stack framework run of seed 0, and plan accuracy on foreign-style
  videos per style family (``--foreign``).

Then ``<out>/results.md`` (:mod:`.results_page`): each figure's table from its JSON, its plot,
the command, the date, the commit and the wall time.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[2]
"""The checkout whose commit the page names."""
STEPS: tuple[str, ...] = ("sparsity", "exploration", "reuse", "fig10", "scheduling", "video")
SKILL_PAIRS = (("red", "blue"), ("green", "red"), ("blue", "green"), ("red", "green"),
               ("green", "blue"), ("blue", "red"))
"""The six two-cube stacks the scheduling policy learns."""
SKILLS_BUDGET = 20_000
"""Env steps of each scheduling run (it stops early at the target success)."""


@dataclass(frozen=True)
class AllConfig:
    """What ``reproduce all`` runs."""

    seeds: int = 5
    detector: str = "clip"
    budget_scale: float = 1.0
    """Multiplies every env-step budget (and the direct sparseness runs): < 1 is a smoke run,
    not the experiment."""
    sparsity_samples: int = 200
    scheduling_episodes: int = 100
    video_episodes: int = 5
    foreign_videos: int = 2
    """Foreign-style videos per instruction and style split (``reproduce video --foreign``)."""
    fig10_sizes: tuple[int, ...] = ()
    """Training-set sizes of Fig. 10 (empty: ``perception.evaluate.FIG10_SIZES``)."""
    steps: tuple[str, ...] = STEPS

    def check(self) -> None:
        """ValueError naming the first setting out of range."""
        if not 1 <= self.seeds <= 100:
            raise ValueError(f"seeds must be in 1..100, got {self.seeds}")
        if not 0 < self.budget_scale <= 10:
            raise ValueError(f"budget_scale must be in (0, 10], got {self.budget_scale}")
        if self.foreign_videos < 0:
            raise ValueError(f"foreign_videos must be >= 0, got {self.foreign_videos}")
        for name in ("sparsity_samples", "scheduling_episodes"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.video_episodes < 0:
            raise ValueError(f"video_episodes must be >= 0, got {self.video_episodes}")
        unknown = [s for s in self.steps if s not in STEPS]
        if unknown or not self.steps:
            raise ValueError(f"steps: unknown {unknown or 'empty list'}; choose from "
                             f"{', '.join(STEPS)}")


def run_all(cfg: AllConfig, out: Path, progress: bool = True,
            say: Callable[[str], None] = print) -> dict[str, Any]:
    """Every step of ``cfg.steps`` in order, then the results page; returns the summary."""
    from experiments.paper.results_page import git_commit, write_results_page

    cfg.check()
    out.mkdir(parents=True, exist_ok=True)
    started = out / "started.json"
    if not started.is_file():  # the first invocation: what the page says it started from
        started.write_text(json.dumps({"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                                       "commit": git_commit(REPO), "config": asdict(cfg)}))
    steps = {"sparsity": sparsity_step, "exploration": exploration_step, "reuse": reuse_step,
             "fig10": fig10_step, "scheduling": scheduling_step, "video": video_step}
    wall = _read_wall(out)
    results: dict[str, Any] = {}
    for name in [s for s in STEPS if s in cfg.steps]:  # video reads the exploration's run
        t0 = time.time()
        say(f"reproduce all: {name}")
        results[name] = steps[name](cfg, out / name, progress, say)
        wall[name] = wall.get(name, 0.0) + (time.time() - t0)
        (out / "wall.json").write_text(json.dumps(wall, indent=1))
    summary = {"config": asdict(cfg), "wall_s": wall, "wall_s_total": sum(wall.values()),
               "steps": {n: r.get("summary_file") for n, r in results.items()}}
    (out / "all.json").write_text(json.dumps(summary, indent=1))
    summary["page"] = str(write_results_page(out, cfg))
    return summary


def _read_wall(out: Path) -> dict[str, float]:
    """Wall seconds spent per step so far (a resumed reproduction adds to them)."""
    path = out / "wall.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def sparsity_step(cfg: AllConfig, out: Path, progress: bool,
                  say: Callable[[str], None]) -> dict[str, Any]:
    """Steps per success of the random policy: the chain estimate, and measured directly."""
    from experiments.paper.sparsity import sparseness_table, sparseness_markdown

    out.mkdir(parents=True, exist_ok=True)
    summary = sparseness_table(cfg.sparsity_samples, cfg.budget_scale, progress, say)
    (out / "sparsity.json").write_text(json.dumps(summary, indent=1))
    (out / "sparsity.md").write_text(sparseness_markdown(summary))
    return {"summary_file": str(out / "sparsity.json")}


def exploration_step(cfg: AllConfig, out: Path, progress: bool,
                     say: Callable[[str], None]) -> dict[str, Any]:
    """Fig. 4 and 5."""
    from experiments.paper.exploration import run_exploration

    run_exploration(cfg.seeds, out, cfg.detector, budget_scale=cfg.budget_scale,
                    sparsity_samples=cfg.sparsity_samples, progress=progress, say=say)
    return {"summary_file": str(out / "exploration.json")}


def reuse_step(cfg: AllConfig, out: Path, progress: bool,
               say: Callable[[str], None]) -> dict[str, Any]:
    """Fig. 7."""
    from experiments.paper.reuse import run_reuse

    run_reuse(cfg.seeds, out, cfg.detector, cfg.budget_scale, progress=progress, say=say)
    return {"summary_file": str(out / "reuse.json")}


def fig10_step(cfg: AllConfig, out: Path, progress: bool,
               say: Callable[[str], None]) -> dict[str, Any]:
    """Fig. 10: one detector per training-set size, the default recipe otherwise."""
    from perception import load_detector
    from perception.evaluate import FIG10_SIZES, eval_splits, fig10_report, summary

    out.mkdir(parents=True, exist_ok=True)
    det = load_detector(None, device="cpu", build_if_missing=True, progress=progress, say=say)
    splits = eval_splits(progress=progress)
    report = fig10_report(det, splits, cfg.fig10_sizes or FIG10_SIZES, out,
                          "made by `langstack reproduce all`", progress=progress, say=say,
                          details=summary(det, splits))
    (out / "fig10.json").write_text(json.dumps({"rows": report["rows"]}, indent=1, default=str))
    return {"summary_file": str(out / "fig10.json")}


def scheduling_step(cfg: AllConfig, out: Path, progress: bool,
                    say: Callable[[str], None]) -> dict[str, Any]:
    """Per seed, a multi-skill run on the six two-cube stacks, then the three-cube
    instructions; pooled over seeds with Wilson intervals."""
    from experiments.collect_infer.stats import wilson
    from experiments.paper.scheduling import SCHEDULING_INSTRUCTIONS, run_scheduling

    per_seed = []
    for seed in range(cfg.seeds):
        run_dir = skills_run(cfg, out / "runs" / f"skills__{seed}", seed, progress, say)
        per_seed.append(run_scheduling(run_dir, SCHEDULING_INSTRUCTIONS, cfg.scheduling_episodes,
                                       out / f"seed_{seed}", progress=progress, say=say))
    rows = []
    for i, instruction in enumerate(SCHEDULING_INSTRUCTIONS):
        rates = [s["instructions"][i]["success_rate"] for s in per_seed]
        wins = sum(round(r * cfg.scheduling_episodes) for r in rates)
        n = cfg.scheduling_episodes * len(rates)
        rows.append({"instruction": instruction, "per_seed": rates, "successes": wins,
                     "episodes": n, "wilson95": list(wilson(wins, n)),
                     "trained_as_task": per_seed[0]["instructions"][i]["trained_as_task"]})
    summary = {"instructions": rows, "seeds": cfg.seeds, "episodes": cfg.scheduling_episodes}
    (out / "scheduling.json").write_text(json.dumps(summary, indent=1))
    (out / "scheduling.md").write_text(scheduling_markdown(summary))
    return {"summary_file": str(out / "scheduling.json")}


def skills_run(cfg: AllConfig, root: Path, seed: int, progress: bool,
               say: Callable[[str], None]) -> Path:
    """The multi-skill run of ``seed`` (trained, resumed or read back)."""
    from experiments.collect_infer.config import TrainConfig
    from experiments.collect_infer.rundir import RunDir
    from experiments.paper.grid import EVAL_EPISODES, default_grid
    from experiments.paper.stored_runs import finished_run
    from sim.tasks import stack_task

    tasks = [stack_task(x, y).instruction for x, y in SKILL_PAIRS]
    budget = max(1, int(SKILLS_BUDGET * cfg.budget_scale))
    train_cfg = TrainConfig(task=tasks[0], also=tuple(tasks[1:]), detector=cfg.detector,
                            seed=seed, max_env_steps=budget, eval_at=default_grid(budget),
                            eval_episodes=EVAL_EPISODES, video=False)
    finished_run(train_cfg, RunDir(root), progress, say, f"the six-stack skills run, seed {seed}")
    return root


def scheduling_markdown(summary: dict[str, Any]) -> str:
    """The scheduling table, pooled over seeds."""
    from experiments.paper.tables import fmt_pooled

    lines = ["| instruction | trained as a task | success per seed | pooled [Wilson 95%] |",
             "|---|---|---|---|"]
    for r in summary["instructions"]:
        per_seed = ", ".join(f"{x:.2f}" for x in r["per_seed"])
        lines.append(f"| {r['instruction']} | {'yes' if r['trained_as_task'] else 'no'} | "
                     f"{per_seed} | {fmt_pooled(r)} |")
    lines += ["", f"{summary['seeds']} multi-skill runs (one per seed) learn the six two-cube "
              f"stacks; each executes every instruction in {summary['episodes']} fresh scenes.", ""]
    return "\n".join(lines)


def video_step(cfg: AllConfig, out: Path, progress: bool,
               say: Callable[[str], None]) -> dict[str, Any]:
    """One-shot imitation: shifted demo videos, read and executed by the exploration's Triple
    Stack framework run of seed 0 (plans only if that run is missing)."""
    from experiments.collect_infer.rundir import task_slug
    from experiments.imitation.reader_build import ensure_reader
    from experiments.paper.video import DEFAULT_INSTRUCTIONS, run_video_experiment
    from perception.reader import VideoReader

    run_dir = (out.parent / "exploration" / "runs"
               / f"{task_slug('stack all three objects')}__framework__0")
    if not (run_dir / "config.json").is_file():
        say(f"video: no exploration run at {run_dir}: plan accuracy only")
        run_dir = None
    detector = VideoReader.load(ensure_reader(progress=progress, say=say))  # imitate's default
    run_video_experiment(list(DEFAULT_INSTRUCTIONS), range(cfg.seeds), out, run_dir,
                         cfg.video_episodes if run_dir else 0, detector, progress=progress,
                         foreign=cfg.foreign_videos)
    return {"summary_file": str(out / "video.json")}
