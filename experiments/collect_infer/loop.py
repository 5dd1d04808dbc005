"""Collect & Infer (the paper's Algorithm 1), top to bottom.

    sub-goals = planner(task)
    repeat until the env-step budget is spent:
        collect N episodes with the current policy (actors explore by sampling; with
            several Ray actors, they collect the next N while the learner runs BC)
        store them (append-only, atomic commits)
        infer: the detector's captions after every step relabel the steps that reached them
        theta <- BC(all relabelled steps); broadcast theta to every actor
        every eval_every env steps: greedy success rate on fixed fresh seeds (the curve)
    (--reuse-from: before the first round, the episodes of earlier runs are re-scored against
     these sub-goals and the matching steps imported; the fresh policy learns them first)
    final evaluation: 100 fresh greedy episodes, learning-curve PNG, eval video

``--agent baseline`` learns from the env reward alone (no sub-goals, no relabelling).
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict
from typing import Any

import numpy as np
from tqdm import tqdm

from experiments.collect_infer.actors import ActorPool, ActorSpec
from experiments.collect_infer.card import write_run_card
from experiments.collect_infer.config import TrainConfig
from experiments.collect_infer.identity import identity_of
from experiments.collect_infer.infer import ImitationData, episode_labels
from experiments.collect_infer.interrupt import InterruptFlag
from experiments.collect_infer.prepare import (
    action_bounds, more_tasks, pin_detector, plan_and_goals, policy_weights, spawn_bounds,
)
from experiments.collect_infer.reuse import import_reused, make_rescorer, reuse_record
from experiments.collect_infer.rundir import RunDir, plot_curves
from experiments.collect_infer.tasks import task_for
from experiments.collect_infer.video import record_video
from policy.store import EpisodeStore
from sim.seeds import CONFIRM, CURVE, FINAL, PEERS, TRAIN

def train(cfg: TrainConfig, run: RunDir, resume: bool = False, progress: bool = True,
          ray_address: str | None = None) -> dict[str, Any]:
    """Run Collect & Infer in ``run``; returns the final result record.

    ``ray_address``: the Ray cluster the N > 1 actors run on (``cluster.resolve_address``;
    None: a private local Ray). Not a setting of the run: a resumed run may use another."""
    import torch

    from policy.checkpoint import load_policy, save_policy
    from policy.model import PolicyConfig, make_policy

    torch.manual_seed(cfg.seed)
    wall0 = time.time()
    cfg = pin_detector(cfg, run, resume)
    plan, goal_embeddings, detector_path = plan_and_goals(cfg)
    space_low, space_high = action_bounds()
    frame_low, frame_high = spawn_bounds()
    policy_config = asdict(PolicyConfig(
        goal_dim=len(next(iter(goal_embeddings.values()))), action_low=space_low,
        action_high=space_high, frame_low=frame_low, frame_high=frame_high,
        d_model=cfg.d_model, n_layers=cfg.n_layers, dropout=0.0))
    if resume and run.checkpoint.exists():
        policy = load_policy(run.checkpoint)
    else:
        policy = make_policy(PolicyConfig(**policy_config), seed=cfg.seed)
    run.write_config({"train": asdict(cfg), "plan": plan, "policy": policy_config,
                      "identity": identity_of(cfg)})

    store = EpisodeStore(run.episodes)
    data = ImitationData(goal_embeddings)
    if cfg.reuse_from:  # lifelong buffer: earlier tasks' episodes, re-scored for this plan
        stats = import_reused(cfg.reuse_from, make_rescorer(cfg.detector, detector_path, plan),
                              plan, data, progress)
        run.log(reuse_record(stats))
        if len(data) and not run.checkpoint.exists():  # fresh weights learn them first
            _learn(policy, data, cfg, n_episodes=0)
    env_steps = n_episodes = 0
    for episode in store.episodes():  # resume: re-infer every committed episode
        data.add(episode, episode_labels(episode, cfg.agent))
        env_steps, n_episodes = env_steps + episode.T, n_episodes + 1
    curve = [(r["env_steps"], r["eval_success_rate"]) for r in run.records("eval")]
    wall_before = max((r.get("wall_s", 0.0) for r in run.records()), default=0.0)

    spec = ActorSpec(task_for(cfg.task, cfg.planner), tuple(plan), goal_embeddings, policy_config,
                     "none" if cfg.agent == "baseline" else cfg.detector, detector_path,
                     cfg.horizon, cfg.explore_eps, more_tasks=more_tasks(cfg),
                     set_down_exploring=cfg.set_down_exploring,
                     set_down_greedy=cfg.set_down_greedy)
    actors = ActorPool(spec, cfg.actors, ray_address)
    eval_range = {"curve": CURVE, "peers": PEERS}[cfg.eval_range]
    eval_seeds = eval_range.seeds(cfg.seed, cfg.eval_episodes)
    confirm_seeds = CONFIRM.seeds(cfg.seed, cfg.confirm_episodes)
    next_eval = _next_eval(cfg, curve[-1][0] if curve else None, resumed=True)
    bar = tqdm(total=cfg.max_env_steps, initial=min(env_steps, cfg.max_env_steps), unit="step",
               desc=f"collect & infer ({cfg.agent})", disable=not progress)
    weights = policy_weights(policy)

    def wall() -> float:
        return wall_before + time.time() - wall0

    def seeds(n: int) -> list[int]:
        return TRAIN.seeds(cfg.seed, cfg.episodes_per_round, first=n)

    def commit(rollouts: list, steps: int, episodes: int) -> tuple[int, int]:
        for r in rollouts:
            store.append(r.episode)  # committed: survives kill -9
            data.add(r.episode, episode_labels(r.episode, cfg.agent))  # Infer
            steps += r.episode.T
        return steps, episodes + len(rollouts)

    overlap = cfg.overlap and cfg.actors > 1
    ahead = None  # a round the actors are collecting while the learner trains
    with InterruptFlag() as interrupt:  # a Ctrl-C ends the loop after its round
        while (env_steps < cfg.max_env_steps or cfg.eval_at and env_steps >= next_eval) \
                and not interrupt.requested:  # eval_at: the last point due is evaluated
            if env_steps >= next_eval:  # the learning curve: greedy success on fixed fresh seeds
                rate = float(np.mean(actors.evaluate(eval_seeds, weights)))
                curve.append((env_steps, rate))
                run.log({"kind": "eval", "env_steps": env_steps, "eval_success_rate": rate,
                         "eval_episodes": len(eval_seeds), "wall_s": wall()})
                next_eval = _next_eval(cfg, env_steps)
                bar.set_postfix(eval=f"{rate:.2f}", labels=len(data))
                if (cfg.target_success is not None and rate >= cfg.target_success
                        and env_steps >= cfg.min_env_steps):
                    confirm = float(np.mean(actors.evaluate(confirm_seeds, weights)))
                    run.log({"kind": "confirm", "env_steps": env_steps, "success_rate": confirm,
                             "episodes": len(confirm_seeds), "wall_s": wall()})
                    if confirm >= cfg.target_success:
                        break
            if env_steps >= cfg.max_env_steps:  # the budget is spent: that was the last point
                break
            rollouts = (ahead or actors.submit_collect(seeds(n_episodes), weights, data.counts()))\
                .result()  # Collect
            ahead = None
            steps_before = env_steps
            env_steps, n_episodes = commit(rollouts, env_steps, n_episodes)
            bar.update(min(env_steps, cfg.max_env_steps) - min(steps_before, cfg.max_env_steps))
            if overlap and env_steps < cfg.max_env_steps:  # the actors go on while BC runs
                ahead = actors.submit_collect(seeds(n_episodes), weights, data.counts())
            losses = []
            if len(data):  # BC on every relabelled step so far, then broadcast
                losses = _learn(policy, data, cfg, n_episodes)
                save_policy(policy, run.checkpoint)
                weights = policy_weights(policy)
            run.log({"kind": "round", "env_steps": env_steps, "episodes": n_episodes,
                     "collect_success_rate": float(np.mean([r.success for r in rollouts])),
                     "labelled_steps": len(data),
                     "bc_loss": float(np.mean(losses)) if losses else 0.0,
                     "label_counts": data.counts(), "wall_s": wall()})
            if len(data):  # the checkpoint was saved this round: its card follows
                write_run_card(run)
    if ahead is not None:  # stopped early: the round already collected still counts
        env_steps, n_episodes = commit(ahead.result(), env_steps, n_episodes)
    bar.close()
    if interrupt.requested:  # Ctrl-C: every collected episode is committed; --resume goes on
        actors.close()
        store.close()
        run.close()
        raise KeyboardInterrupt

    final_seeds = FINAL.seeds(cfg.seed, cfg.final_eval_episodes)
    final = float(np.mean(actors.evaluate(final_seeds, weights)))
    actors.close()
    store.close()
    save_policy(policy, run.checkpoint)
    result = {"env_steps": env_steps, "eval_success_rate": final,
              "steps_to_50": next((s for s, r in curve if r >= 0.5), None),
              "wall_s": wall(), "run_dir": str(run.root), "episodes": n_episodes}
    run.log({"kind": "final", **result, "eval_episodes": len(final_seeds)})
    plot_curves({f"{cfg.agent} ({cfg.detector})": curve}, run.curve_png, cfg.task)
    if cfg.video:
        result["video"] = str(record_video(spec, policy, run.root / "eval.mp4", final_seeds[:2]))
    write_run_card(run)
    run.close()
    return result


def _next_eval(cfg: TrainConfig, last: int | None, resumed: bool = False) -> float:
    """Env steps at which the curve's next evaluation is due after one at ``last`` (None:
    none yet): the next ``eval_at`` point, else ``eval_every`` later (on resume, the next
    multiple of it)."""
    if cfg.eval_at:
        return next((p for p in cfg.eval_at if last is None or p > last), math.inf)
    if last is None:
        return 0
    return (last // cfg.eval_every + 1) * cfg.eval_every if resumed else last + cfg.eval_every


def _learn(policy, data: ImitationData, cfg: TrainConfig, n_episodes: int) -> list[float]:
    """One behaviour-cloning round on every labelled step; returns the losses."""
    from policy.bc import BCConfig, train_bc

    bc = BCConfig(steps=cfg.bc_steps_per_round, batch_size=cfg.batch_size, lr=cfg.lr,
                  seed=cfg.seed * 7919 + n_episodes, min_lr_ratio=1.0,
                  translate=cfg.bc_translate)
    return train_bc(policy, data.dataset(), bc)
