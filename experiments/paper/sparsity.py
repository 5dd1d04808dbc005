"""Task sparseness: mean env steps a uniform random policy needs per success (paper, Sec. 5.1).

Two ways, reported side by side:
- **measured**: run the uniform random policy for N steps and divide by the successes
  (affordable for Grasp, ~1e1 steps per success);
- **estimate**: measure the random policy's stage probabilities by Monte Carlo (a random pick
  grasps a given cube; a random place puts the held cube on a given cube; the same on a
  two-cube stack), then solve the random policy's Markov chain over the stages for the
  expected steps to success. This reaches Stack (~1e3) and Triple Stack (>1e6), where direct
  measurement would take days.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from tqdm import tqdm

from sim import EnvConfig, StackingEnv, Task, make_env, on_top_key, triple_stack_task
from sim.expert import expert_action
from sim.seeds import SPARSITY


@dataclass
class StageProbabilities:
    """Monte Carlo estimates of what one uniform random action achieves."""

    pick: float
    """P(a random pick grasps one given cube), cubes scattered."""
    place: float
    """P(a random place puts the held cube on one given other cube), cubes scattered."""
    pick_free_with_stack: float
    """P(a random pick grasps the free cube) when the other two form a stack."""
    pick_top_with_stack: float
    """P(a random pick grasps the top of the two-cube stack)."""
    place_on_stack: float
    """P(a random place puts the held third cube on top of the two-cube stack)."""
    samples: int


def measure_stages(samples: int, seed: int = 0, progress: bool = True) -> StageProbabilities:
    """Estimate the stage probabilities with ``samples`` trials each."""
    env = make_env(triple_stack_task(), EnvConfig(render=False, horizon=100))
    rng = np.random.default_rng(seed)
    hits, trials = np.zeros(5), np.zeros(5)
    bar = tqdm(range(samples), desc="stage probabilities", disable=not progress, unit="trial")
    for i in bar:
        env.reset(seed=SPARSITY.seed(seed, i))
        trials[0] += 1
        hits[0] += _random_step(env, rng)["held"] == "red"  # one given cube (all are alike)
        env.reset(seed=SPARSITY.seed(seed, i))
        env.step(expert_action(env))  # the expert grasps green (first cube of its tower)
        trials[1] += 1
        hits[1] += _random_step(env, rng)["predicates"][on_top_key("green", "blue")]
        env.reset(seed=SPARSITY.seed(seed, i))
        env.step(expert_action(env))
        env.step(expert_action(env))  # green on blue
        if not env.scene().predicates[on_top_key("green", "blue")]:
            continue
        held = _random_step(env, rng)["held"]
        trials[2:4] += 1
        hits[2] += held == "red"
        hits[3] += held == "green"
        if held == "green":
            continue
        if held is None:
            env.step(expert_action(env))  # expert grasps red
        preds = _random_step(env, rng)["predicates"]
        trials[4] += 1
        hits[4] += preds[on_top_key("red", "green")] and preds[on_top_key("green", "blue")]
    env.close()
    p = hits / np.maximum(trials, 1)
    return StageProbabilities(*p.tolist(), samples=samples)


def _random_step(env: StackingEnv, rng: np.random.Generator) -> dict:
    ws = env.config.workspace  # the random policy: uniform over the rectangle cubes spawn in
    action = rng.uniform(ws.low, ws.high)
    return env.step(action)[4]


def expected_steps(task: Task, s: StageProbabilities, horizon: int) -> float:
    """Expected env steps per success of the uniform random policy with episodes of
    ``horizon`` steps (Markov chain over the task's stages, truncated at the horizon)."""
    q, r = _chain(task, s)
    dist = np.zeros(len(r))
    dist[0] = 1.0
    p_success = steps = 0.0
    for _ in range(horizon):
        steps += dist.sum()  # every running episode takes one step
        p_success += dist @ r
        dist = dist @ q
    return steps / p_success if p_success > 0 else float("inf")


def _chain(task: Task, s: StageProbabilities) -> tuple[np.ndarray, np.ndarray]:
    """Transient-state transition matrix Q and one-step success probabilities r."""
    n_pairs = len(task.stacks)
    if task.triple:
        # 0 scattered, 1 holding (scattered), 2 two-stack, 3 holding the third, 4 holding the top
        q = np.zeros((5, 5))
        q[0, 1] = 3 * s.pick
        q[0, 0] = 1 - q[0, 1]
        q[1, 2] = 2 * s.place
        q[1, 0] = 1 - q[1, 2]
        q[2, 3], q[2, 4] = s.pick_free_with_stack, s.pick_top_with_stack
        q[2, 2] = 1 - q[2, 3] - q[2, 4]
        q[3, 2] = 1 - s.place_on_stack
        q[4, 2] = 2 * s.place
        q[4, 0] = 1 - q[4, 2]
        return q, np.array([0, 0, 0, s.place_on_stack, 0])
    if n_pairs == 0:  # grasp X: 0 empty, 1 holding another cube
        q = np.array([[1 - 3 * s.pick, 2 * s.pick], [1.0, 0.0]])
        return q, np.array([s.pick, 0.0])
    if n_pairs == 1:  # stack X on Y: 0 empty, 1 holding X, 2 holding another cube
        q = np.array([[1 - 3 * s.pick, s.pick, 2 * s.pick], [1 - s.place, 0, 0], [1.0, 0, 0]])
        return q, np.array([0.0, s.place, 0.0])
    raise ValueError("sparsity estimates cover Grasp, Stack and Triple Stack")


def measure_direct(task: Task, steps: int, seed: int = 0, progress: bool = True) -> tuple[float, int]:
    """Run the uniform random policy for ``steps`` env steps: (steps per success, successes)."""
    env = make_env(task, EnvConfig(render=False))
    rng = np.random.default_rng(seed)
    successes, episode = 0, 0
    env.reset(seed=SPARSITY.seed(seed, 0))
    for _ in tqdm(range(steps), desc="random policy", disable=not progress, unit="step"):
        _, reward, terminated, truncated, _ = env.step(
            rng.uniform(env.config.workspace.low, env.config.workspace.high))
        successes += int(reward)
        if terminated or truncated:
            episode += 1
            env.reset(seed=SPARSITY.seed(seed, episode))
    env.close()
    return (steps / successes if successes else float("inf")), successes



DIRECT_STEPS = {"Grasp red": 2_000, "Stack red on blue": 20_000}
"""Env steps of the random policy run directly per task (Triple Stack: too rare to measure;
its estimate stands alone)."""


def sparseness_table(samples: int, budget_scale: float = 1.0, progress: bool = True,
                     say: Callable[[str], None] = print) -> dict[str, Any]:
    """Each exploration task's random-policy env steps per success: the chain estimate (None
    where a stage never succeeded) and, where feasible, measured directly (``DIRECT_STEPS``
    times ``budget_scale``) with a 95% interval."""
    import math

    from experiments.collect_infer.config import TrainConfig
    from experiments.collect_infer.stats import wilson
    from experiments.collect_infer.tasks import task_for
    from experiments.paper.exploration import EXPLORATION_TASKS

    stages = measure_stages(samples, progress=progress)
    rows = []
    for t in EXPLORATION_TASKS:
        task = task_for(t.instruction)
        estimate = expected_steps(task, stages, TrainConfig.horizon)
        row: dict[str, Any] = {"task": t.instruction, "label": t.label,  # None: no estimate
                               "estimated": estimate if math.isfinite(estimate) else None}
        steps = int(DIRECT_STEPS.get(t.label, 0) * budget_scale)
        if steps:
            say(f"sparsity: {steps} random env steps on {t.label}")
            measured, successes = measure_direct(task, steps, progress=progress)
            lo, hi = wilson(successes, steps)  # successes per env step
            row |= {"direct_steps": steps, "direct_successes": successes,
                    "measured": measured if successes else None,
                    "measured_ci95": [1 / hi if hi else None, 1 / lo if lo else None]}
        rows.append(row)
    return {"tasks": rows, "samples_per_stage": samples, "horizon": TrainConfig.horizon}


def sparseness_markdown(summary: dict[str, Any]) -> str:
    """The sparseness table."""
    from experiments.paper.tables import fmt_number

    lines = ["| task | estimate (chain) | measured directly [95%] | random env steps, successes |",
             "|---|---:|---|---|"]
    for r in summary["tasks"]:
        if "direct_steps" in r:
            lo, hi = r["measured_ci95"]
            shown = (f"{fmt_number(r['measured'])} [{fmt_number(lo)}, {fmt_number(hi)}]"
                     if r["measured"] else f"none in {r['direct_steps']:,} (> {fmt_number(lo)})")
            runs = f"{r['direct_steps']:,}, {r['direct_successes']}"
        else:
            shown, runs = "not measured (too rare)", "—"
        estimate = ("none (a stage never succeeded in the trials)" if r["estimated"] is None
                    else fmt_number(r["estimated"]))
        lines.append(f"| {r['label']} | {estimate} | {shown} | {runs} |")
    lines += ["", f"Estimate: the random policy's Markov chain over task stages with "
              f"{summary['samples_per_stage']} Monte Carlo trials per stage, episodes of "
              f"{summary['horizon']} steps. Measured: env steps over successes of the random "
              "policy itself; the interval is the Wilson 95% interval of successes per env step, "
              "inverted.", ""]
    return "\n".join(lines)
