"""One evaluation procedure for every agent of ``langstack reproduce peers``, and its runs.

Every run of seed ``k`` trains on the scenes of block ``k`` of ``sim.seeds.TRAIN`` (as the
framework does), is evaluated greedily on the same ``eval_episodes`` scenes of block ``k`` of
``sim.seeds.PEERS`` at the first moment its env steps reach each point of the shared grid
(the framework at the end of a collection round, PPO at the end of a rollout, TQC at the
step), with the same horizon, and stops once a point reaches ``TARGET_SUCCESS`` and as many
scenes of ``sim.seeds.CONFIRM`` agree. Tuning candidates use ``sim.seeds.PEER_TUNING``
(block 0 trains, 1 evaluates, 2 confirms). Success is the task's own ground-truth success at
any step of the episode.

A run directory holds ``peer.json`` (the job's settings: a stored run made otherwise is
refused) and ``peer_curve.jsonl`` (one record per evaluated point: ``point``, ``env_steps``,
``successes``, ``episodes``, ``wall_s``, and ``confirm_*``/``stop`` after a confirmation).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from experiments.paper.grid import GREEDY_SET_DOWN, TARGET_SUCCESS
from experiments.paper.peers import FRAMEWORK_AGENTS, SB3_AGENTS, Job

Policy = Callable[[Any], Any]


@dataclass(frozen=True)
class Seeds:
    """The scenes a run trains on (``train(i)``: its i-th episode), is evaluated on and
    confirms a target on."""

    train_key: int
    tuning: bool
    eval: list[int]
    confirm: list[int]

    def train(self, i: int) -> int:
        """The scene of the run's ``i``-th training episode."""
        from sim.seeds import PEER_TUNING, TRAIN

        return PEER_TUNING.seed(0, i) if self.tuning else TRAIN.seed(self.train_key, i)


def seeds_for(job: Job) -> Seeds:
    """The scenes of ``job``: its run seed's blocks, or the tuning blocks for a candidate."""
    from sim.seeds import CONFIRM, PEER_TUNING, PEERS

    n = job.eval_episodes
    if job.candidate is not None:
        return Seeds(0, True, PEER_TUNING.seeds(1, n), PEER_TUNING.seeds(2, n))
    return Seeds(job.seed, False, PEERS.seeds(job.seed, n), CONFIRM.seeds(job.seed, n))


def evaluate_policy(env: Any, policy: Policy, seeds: list[int], instruction: str,
                    horizon: int) -> list[bool]:
    """Greedy success per scene: ``policy(obs)`` acts in ``env`` from ``reset(seed=s)`` for at
    most ``horizon`` steps; success is the task's ground truth at any step."""
    from experiments.collect_infer.tasks import task_for

    task = task_for(instruction)
    out = []
    for seed in seeds:
        obs, _ = env.reset(seed=seed)
        env.action_space.seed(seed)  # the random policy's draws: one per scene
        success = False
        for _ in range(horizon):
            obs, _, terminated, truncated, info = env.step(policy(obs))
            success = task.success(info["predicates"])
            if success or terminated or truncated:
                break
        out.append(success)
    return out


def early_stop(job: Job, rec: dict[str, Any], confirm: Callable[[], list[bool]]) -> dict[str, Any]:
    """The early stop every agent shares: at a point with success >= TARGET_SUCCESS, a
    confirmation on as many other scenes; stop if it agrees. Returns the fields to record."""
    if rec["successes"] < TARGET_SUCCESS * rec["episodes"]:
        return {}
    confirmed = confirm()
    ok = sum(confirmed) >= TARGET_SUCCESS * len(confirmed)
    return {"confirm_successes": int(sum(confirmed)), "confirm_episodes": len(confirmed),
            "stop": ok}


def log_path(root: Path) -> Path:
    """The run's eval records (JSONL)."""
    return root / "peer_curve.jsonl"


def read_log(root: Path) -> list[dict[str, Any]]:
    """The eval records of a run so far (a torn last line, from a crash, is dropped)."""
    path = log_path(root)
    if not path.exists():
        return []
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    out = []
    for i, line in enumerate(lines):
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            if i == len(lines) - 1:
                break
            raise ValueError(f"{path}: line {i + 1} is not a JSON record") from None
        if not isinstance(rec, dict) or not {"point", "env_steps", "successes",
                                             "episodes", "wall_s"} <= rec.keys():
            raise ValueError(f"{path}: line {i + 1} is not an eval record")
        out.append(rec)
    return out


def job_settings(job: Job) -> dict[str, Any]:
    """What makes a run: the job without its directory (JSON types)."""
    d = asdict(job)
    d.pop("run_dir")
    d["grid"] = list(d["grid"])
    return json.loads(json.dumps(d))


def prepare_run_dir(job: Job) -> None:
    """Create ``job.run_dir`` with its ``peer.json``, or check a stored one was made with the
    same settings (ValueError naming the first difference otherwise)."""
    root = Path(job.run_dir)
    wanted = job_settings(job)
    stored_path = root / "peer.json"
    if stored_path.exists():
        try:
            stored = json.loads(stored_path.read_text())
        except json.JSONDecodeError:
            raise ValueError(f"corrupt {stored_path}: choose another --out") from None
        diff = next((k for k in wanted if stored.get(k) != wanted[k]), None)
        if diff is not None:
            raise ValueError(f"{root} was made with {diff}={stored.get(diff)!r}, not "
                             f"{wanted[diff]!r}: choose another --out, or the same settings")
        return
    if root.exists() and any(p.name != "peer.json" for p in root.iterdir()) \
            and job.agent not in FRAMEWORK_AGENTS:
        raise ValueError(f"{root} holds files of no peers run: choose another --out")
    root.mkdir(parents=True, exist_ok=True)
    stored_path.write_text(json.dumps(wanted, indent=1))


def run_job(job: Job, progress: bool = False) -> dict[str, Any]:
    """Run (or resume, or read back) one job; returns its result: the job's settings, its
    eval records and its wall time (to its last eval, evaluations included)."""
    import torch

    torch.set_num_threads(1)
    say = (lambda m: print(m, flush=True)) if progress else (lambda _: None)
    if job.agent in FRAMEWORK_AGENTS:
        records = run_framework(job, progress)
    else:
        prepare_run_dir(job)
        seeds = seeds_for(job)
        if job.agent in SB3_AGENTS:
            from experiments.paper.peers_sb3 import run_sb3

            records = run_sb3(job, seeds, _evaluator(job), say)
        elif job.agent == "random":
            records = run_random(job, seeds)
        else:
            raise ValueError(f"unknown agent {job.agent!r}")
    return {**job_settings(job), "run_dir": job.run_dir, "records": records,
            "wall_s": records[-1]["wall_s"] if records else 0.0}


def _evaluator(job: Job) -> Callable[[Policy, list[int]], list[bool]]:
    """``evaluate(policy, seeds)`` in a fresh env of ``job.agent`` (no training scenes)."""
    from experiments.paper.peers_sb3 import make_env

    env = make_env(job.agent, job.task, job.horizon)
    return lambda policy, seeds: evaluate_policy(env, policy, seeds, job.task, job.horizon)


def run_random(job: Job, seeds: Seeds) -> list[dict[str, Any]]:
    """The uniform random policy: it learns nothing, so one evaluation (at env step 0, on the
    same scenes) stands for every grid point."""
    import time

    root = Path(job.run_dir)
    records = read_log(root)
    if records:
        return records
    from experiments.paper.peers_sb3 import make_env

    env = make_env("random", job.task, job.horizon)
    start = time.perf_counter()
    successes = evaluate_policy(env, lambda _: env.action_space.sample(), seeds.eval, job.task,
                                job.horizon)
    env.close()
    rec = {"point": 0, "env_steps": 0, "successes": int(sum(successes)),
           "episodes": len(successes), "constant": True, "wall_s": time.perf_counter() - start}
    log_path(root).write_text(json.dumps(rec) + "\n")
    return [rec]


def run_framework(job: Job, progress: bool) -> list[dict[str, Any]]:
    """Collect & Infer (``framework-clip`` / ``framework-oracle``) evaluated at the grid on
    the peers' scenes; returns its curve as eval records."""
    from experiments.collect_infer.config import TrainConfig
    from experiments.collect_infer.identity import check_reusable
    from experiments.collect_infer.loop import train
    from experiments.collect_infer.rundir import RunDir

    if job.candidate is not None:
        raise ValueError("the framework has no tuning runs")
    run = RunDir(Path(job.run_dir))
    cfg = TrainConfig(task=job.task, agent="framework", detector=job.agent.split("-")[1],
                      seed=job.seed, max_env_steps=job.budget, horizon=job.horizon,
                      eval_at=job.grid, eval_range="peers", eval_episodes=job.eval_episodes,
                      confirm_episodes=job.eval_episodes,
                      final_eval_episodes=job.eval_episodes, target_success=TARGET_SUCCESS,
                      set_down_greedy=GREEDY_SET_DOWN, video=False,
                      detector_path=job.detector_path)
    if run.config_path.exists():
        prepare_run_dir(job)  # refuses a stored run made otherwise
        check_reusable(run.read_config(), cfg, str(run.root))
        resume = True
    else:
        (run.root / "peer.json").unlink(missing_ok=True)  # a run that never got to start
        run.create()
        prepare_run_dir(job)
        resume = False
    if not framework_done(run, job.budget):
        train(cfg, run, resume=resume, progress=progress)
    return framework_records(run, job.grid)


def framework_done(run: Any, budget: int) -> bool:
    """Whether a framework run is over: its final record, after the budget or a confirmed
    target (a run a Ctrl-C ended earlier also has a final record: it is resumed)."""
    final = run.records("final")
    if not final:
        return False
    if final[-1]["env_steps"] >= budget:
        return True
    confirms = run.records("confirm")
    return bool(confirms) and confirms[-1]["success_rate"] >= TARGET_SUCCESS


def framework_records(run: Any, grid: tuple[int, ...]) -> list[dict[str, Any]]:
    """A framework run's curve as eval records (``point``: the last grid point it covers)."""
    evals, confirms = run.records("eval"), run.records("confirm")
    out = []
    for rec in evals:
        n = int(rec["eval_episodes"])
        point = max(p for p in grid if p <= rec["env_steps"])
        row = {"point": point, "env_steps": int(rec["env_steps"]),
               "successes": int(round(rec["eval_success_rate"] * n)), "episodes": n,
               "wall_s": float(rec["wall_s"])}
        confirm = next((c for c in confirms if c["env_steps"] == rec["env_steps"]), None)
        if confirm is not None:
            rate, m = float(confirm["success_rate"]), int(confirm["episodes"])
            row.update({"confirm_successes": int(round(rate * m)), "confirm_episodes": m,
                        "stop": rate >= TARGET_SUCCESS})
        out.append(row)
    return out


def success_at(records: list[dict[str, Any]], point: int) -> dict[str, Any] | None:
    """The record that stands for grid ``point``: the first eval at >= ``point`` env steps; a
    run that stopped early (or the random policy) carries its last one on. None for a run that
    has not got there yet."""
    hit = next((r for r in records if r["env_steps"] >= point), None)
    if hit is not None:
        return hit
    if records and (records[-1].get("stop") or records[-1].get("constant")):
        return records[-1]
    return None


def steps_to(records: list[dict[str, Any]], rate: float) -> int | None:
    """Env steps of the first eval with success >= ``rate`` (None: never)."""
    return next((r["env_steps"] for r in records if r["successes"] >= rate * r["episodes"]),
                None)


def mean_rate(records: list[dict[str, Any]], grid: tuple[int, ...]) -> float:
    """Mean greedy success over the grid (the tuning score: area under the curve)."""
    rows = [success_at(records, p) for p in grid]
    return float(np.mean([r["successes"] / r["episodes"] if r else 0.0 for r in rows]))
