"""The Stable-Baselines3 peers of ``langstack reproduce peers``: settings, envs, resumable runs.

- ``tqc-her``: sb3-contrib TQC + ``HerReplayBuffer`` on the goal-conditioned env
  (:class:`sim.goal_env.GoalStackingEnv`: privileged ground-truth goals and rewards). The RL
  Zoo's hyperparameters for the Panda pick-and-place tasks (gamma 0.95, learning rate 1e-3,
  tau 0.05, HER "future" with 4 sampled goals, 2 critics), adapted to this action space and a
  CPU: 2 layers of 256 units and batches of 256 (the Zoo's 3 x 512 units and batches of 2,048
  took 1.2 s per gradient step against 0.1 s on one core here, i.e. ~7 h per 20k-step run), a
  replay buffer holding the whole budget, no TimeFeatureWrapper. Triple Stack
  ("any tower") is no goal of predicates: TQC + HER is given one tower (:data:`TRIPLE_TOWER`)
  as its goal and is evaluated, as everyone, on the task's own success (any tower).
- ``ppo``: SB3 PPO on the env's sparse reward with the flattened state: SB3's defaults (which
  the RL Zoo keeps for many tasks) but gamma 0.95 for the 10-step horizon and rollouts of 512
  env steps, not 2,048, which would be a large share of a short budget (a run's rollouts are
  capped at its budget).

A run trains on the scenes of its ``train_seeds``, is evaluated at every grid point
(:func:`experiments.paper.peers_runs.evaluate_policy`) and saves, after each point, its weights
and optimiser states (``torch.save`` of tensors, read back with ``weights_only=True``), its
replay buffer (``.npz``, read without pickle) and the point's record: a re-run resumes after the
last saved point. No pickle is written or read.
"""
from __future__ import annotations

import json
import time
import warnings
from pathlib import Path
from typing import Any, Callable

import gymnasium as gym
import numpy as np

SB3_SETTINGS_SOURCE = ("TQC + HER: the RL Zoo's Panda settings (rl-baselines3-zoo "
                       "hyperparams/tqc.yml) with net 2x256, batch 256, buffer = budget, no "
                       "TimeFeatureWrapper; PPO: SB3 defaults with gamma 0.95 and n_steps 512 "
                       "(at most the budget)")
TRIPLE_TOWER = ("on_top(green,blue)", "on_top(red,green)")
"""The goal TQC + HER is given on Triple Stack (red on green on blue)."""


def base_settings(agent: str, budget: int) -> dict[str, Any]:
    """The published (adapted) hyperparameters of ``agent`` for a run of ``budget`` env steps."""
    return for_budget(candidates(agent)[0], budget)


def candidates(agent: str) -> list[dict[str, Any]]:
    """The tuning candidates of ``agent`` (the first is :func:`base_settings`; a run's are
    :func:`for_budget` of them): two each, so
    every peer gets the same tuning budget; they differ in the learning rate (and PPO's
    rollout length, which sets how often a short run updates at all)."""
    if agent == "tqc-her":
        base = {"learning_rate": 1e-3, "gamma": 0.95, "tau": 0.05, "batch_size": 256,
                "learning_starts": 100, "train_freq": 1, "gradient_steps": 1,
                "net_arch": [256, 256], "n_critics": 2, "n_sampled_goal": 4,
                "goal_selection_strategy": "future", "buffer_size": 1_000_000}
        return [base, {**base, "learning_rate": 3e-4}]
    if agent == "ppo":
        base = {"learning_rate": 3e-4, "gamma": 0.95, "n_steps": 512, "batch_size": 64,
                "n_epochs": 10, "gae_lambda": 0.95, "clip_range": 0.2, "ent_coef": 0.0,
                "net_arch": [64, 64]}
        return [base, {**base, "learning_rate": 1e-3, "n_steps": 128, "batch_size": 32}]
    raise ValueError(f"no SB3 settings for agent {agent!r}")


def for_budget(settings: dict[str, Any], budget: int) -> dict[str, Any]:
    """``settings`` for a run of ``budget`` env steps: a replay buffer that holds them all
    (off-policy), rollouts no longer than the budget (PPO: it would overshoot it by up to a
    rollout)."""
    out = dict(settings)
    if "buffer_size" in out:
        out["buffer_size"] = max(1, budget)
    if "n_steps" in out and out["n_steps"] > budget:
        out["n_steps"] = max(2, budget)
        out["batch_size"] = min(out["batch_size"], out["n_steps"])
    return out


class SeededResets(gym.Wrapper):
    """Every reset draws the next scene of a seed list (the learner's own reset seeds are
    ignored), counting from ``start``; ``resets`` is where a resumed run goes on from."""

    def __init__(self, env: gym.Env, seed_of: Callable[[int], int], start: int = 0) -> None:
        super().__init__(env)
        self.seed_of = seed_of
        self.resets = start

    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        self.resets += 1
        return self.env.reset(seed=self.seed_of(self.resets - 1), options=options)


def make_env(agent: str, instruction: str, horizon: int) -> Any:
    """The state-only env ``agent`` learns in: the goal env (TQC + HER) or the flattened
    state of the plain env (PPO, the random policy)."""
    import sim
    from experiments.collect_infer.tasks import task_for

    task = task_for(instruction)
    config = sim.EnvConfig(render=False, horizon=horizon)
    if agent == "tqc-her":
        from sim.tasks import Task

        if task.triple:
            task = Task.from_goal(task.instruction, TRIPLE_TOWER)
        return sim.GoalStackingEnv(task, config)
    return gym.wrappers.FlattenObservation(sim.make_env(task, config))


def build_model(agent: str, env: Any, settings: dict[str, Any], seed: int) -> Any:
    """A fresh SB3 model of ``agent`` with ``settings`` on ``env`` (CPU)."""
    if agent == "tqc-her":
        from sb3_contrib import TQC
        from stable_baselines3 import HerReplayBuffer

        s = settings
        return TQC("MultiInputPolicy", env, learning_rate=s["learning_rate"], gamma=s["gamma"],
                   tau=s["tau"], batch_size=s["batch_size"], buffer_size=s["buffer_size"],
                   learning_starts=s["learning_starts"], train_freq=s["train_freq"],
                   gradient_steps=s["gradient_steps"], replay_buffer_class=HerReplayBuffer,
                   replay_buffer_kwargs={"n_sampled_goal": s["n_sampled_goal"],
                                         "goal_selection_strategy": s["goal_selection_strategy"]},
                   policy_kwargs={"net_arch": s["net_arch"], "n_critics": s["n_critics"]},
                   seed=seed, device="cpu", verbose=0)
    if agent == "ppo":
        from stable_baselines3 import PPO

        s = settings
        return PPO("MlpPolicy", env, learning_rate=s["learning_rate"], gamma=s["gamma"],
                   n_steps=s["n_steps"], batch_size=s["batch_size"], n_epochs=s["n_epochs"],
                   gae_lambda=s["gae_lambda"], clip_range=s["clip_range"],
                   ent_coef=s["ent_coef"], policy_kwargs={"net_arch": s["net_arch"]},
                   seed=seed, device="cpu", verbose=0)
    raise ValueError(f"no SB3 learner for agent {agent!r}")


# ------------------------------------------------------------------ checkpoints (no pickle)
BUFFER_FIELDS = ("actions", "rewards", "dones", "timeouts", "ep_start", "ep_length",
                 "_current_ep_start")


def save_checkpoint(model: Any, folder: Path, resets: int) -> None:
    """The model's weights and optimiser states, its counters and its replay buffer."""
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    state = {"params": model.get_parameters(), "num_timesteps": int(model.num_timesteps),
             "n_updates": int(getattr(model, "_n_updates", 0)), "resets": int(resets),
             "episode_num": int(model._episode_num)}
    if getattr(model, "log_ent_coef", None) is not None:
        state["log_ent_coef"] = model.log_ent_coef.detach().clone()
    torch.save(state, folder / "model.pt.tmp")
    (folder / "model.pt.tmp").replace(folder / "model.pt")
    buffer = getattr(model, "replay_buffer", None)
    if buffer is not None:
        arrays = {f: getattr(buffer, f) for f in BUFFER_FIELDS}
        for part in ("observations", "next_observations"):
            arrays.update({f"{part}.{k}": v for k, v in getattr(buffer, part).items()})
        arrays["pos_full"] = np.array([buffer.pos, int(buffer.full)])
        with open(folder / "replay.npz.tmp", "wb") as f:
            np.savez(f, **arrays)
        (folder / "replay.npz.tmp").replace(folder / "replay.npz")


def load_checkpoint(model: Any, folder: Path) -> int:
    """Restore what :func:`save_checkpoint` wrote into a freshly built ``model``; returns the
    resets the run had made (its next training scene)."""
    import torch

    state = torch.load(folder / "model.pt", weights_only=True)
    model.set_parameters(state["params"], exact_match=True)
    model.num_timesteps = state["num_timesteps"]
    model._n_updates = state["n_updates"]
    model._episode_num = state["episode_num"]
    if "log_ent_coef" in state:
        with torch.no_grad():
            model.log_ent_coef.copy_(state["log_ent_coef"])
    buffer = getattr(model, "replay_buffer", None)
    if buffer is not None:
        with np.load(folder / "replay.npz", allow_pickle=False) as data:
            for f in BUFFER_FIELDS:
                getattr(buffer, f)[...] = data[f]
            for part in ("observations", "next_observations"):
                for k, v in getattr(buffer, part).items():
                    v[...] = data[f"{part}.{k}"]
            buffer.pos, buffer.full = int(data["pos_full"][0]), bool(data["pos_full"][1])
        with warnings.catch_warnings():  # SB3 warns that it does what is meant here
            warnings.simplefilter("ignore", UserWarning)
            buffer.truncate_last_trajectory()  # the episode cut by the save does not go on
    return int(state["resets"])


# ------------------------------------------------------------------ a run
def run_sb3(job: Any, seeds: Any, evaluate: Callable[[Any, list[int]], list[bool]],
            progress: Callable[[str], None] = lambda _: None) -> list[dict[str, Any]]:
    """Train ``job.agent`` through ``job.grid`` in ``job.run_dir``, resuming after the last
    saved point; returns every eval record. ``seeds``: the run's train / eval / confirm seed
    sources (:class:`experiments.paper.peers_runs.Seeds`); ``evaluate(policy_fn, seeds)``:
    greedy success per seed of ``policy_fn(obs) -> action``."""
    import torch

    from experiments.paper.peers_runs import early_stop, log_path, read_log

    torch.set_num_threads(1)
    root = Path(job.run_dir)
    records = read_log(root)
    if records and (records[-1].get("stop") or records[-1]["env_steps"] >= job.budget):
        return records
    env = make_env(job.agent, job.task, job.horizon)
    model = build_model(job.agent, env, job.settings, job.seed)
    resets = load_checkpoint(model, root / "checkpoint") if records else 0
    wrapped = SeededResets(env, seeds.train, resets)
    model.set_env(wrapped)

    def policy(obs: Any) -> np.ndarray:
        return model.predict(obs, deterministic=True)[0]

    wall0 = records[-1]["wall_s"] if records else 0.0
    start = time.perf_counter()
    for point in job.grid:
        if records and point <= records[-1]["point"]:
            continue
        if model.num_timesteps < point:
            model.learn(total_timesteps=point - model.num_timesteps, reset_num_timesteps=False,
                        progress_bar=False)
        successes = evaluate(policy, seeds.eval)
        rec = {"point": point, "env_steps": int(model.num_timesteps),
               "successes": int(sum(successes)), "episodes": len(successes)}
        stop = early_stop(job, rec, lambda: evaluate(policy, seeds.confirm))
        rec.update(stop)
        rec["wall_s"] = wall0 + time.perf_counter() - start
        save_checkpoint(model, root / "checkpoint", wrapped.resets)
        with open(log_path(root), "a") as f:
            f.write(json.dumps(rec) + "\n")
        records.append(rec)
        progress(f"{job.agent} seed {job.seed}: {rec['env_steps']} env steps, "
                 f"{rec['successes']}/{rec['episodes']} greedy successes")
        if rec.get("stop"):
            break
    env.close()
    return records
