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

import functools
import hashlib
import signal
import sys
import threading
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from experiments.actors import ActorPool, ActorSpec
from experiments.infer import ImitationData, episode_labels
from experiments.reuse import import_reused, make_rescorer, reuse_record
from experiments.rundir import RunDir, plot_curves
from policy.store import EpisodeStore

TRAIN_SEED_BASE = 10_000_000
EVAL_SEED_OFFSET = 7_000_000
"""Eval seeds are disjoint from every training seed (fresh scenes)."""
CURVE_SEEDS, CONFIRM_SEEDS, FINAL_SEEDS = 0, 50_000, 100_000
"""Starts of the three disjoint sets of eval seeds: the curve, early-stop confirmation, final."""


def fresh_seeds(run_seed: int, which: int, n: int) -> list[int]:
    """``n`` eval seeds of the set starting at ``which`` (one of the starts above)."""
    start = run_seed * TRAIN_SEED_BASE + EVAL_SEED_OFFSET + which
    return list(range(start, start + n))


@dataclass
class TrainConfig:
    """Collect & Infer settings (the CLI exposes the common ones)."""

    task: str
    """The instruction, e.g. "stack all three objects"."""
    agent: str = "framework"
    """"framework" (sub-goals + detector + hindsight) or "baseline" (env reward only)."""
    detector: str = "clip"
    """"clip" (the CLIP detector) or "oracle" (ground-truth predicates, to price its errors)."""
    planner: str = "auto"
    actors: int = 1
    overlap: bool = True
    """With N > 1 actors, they collect the next round while the learner trains (their weights
    are then one round old); one in-process actor always alternates."""
    max_env_steps: int = 50_000
    seed: int = 0
    horizon: int = 10
    episodes_per_round: int = 16
    """N: episodes collected between behaviour-cloning rounds."""
    bc_steps_per_round: int = 100
    bc_translate: float = 0.08
    """BC translation augmentation (metres, see ``BCConfig.translate``). The demonstrations
    are the sampled actions that happened to succeed (grasps scatter ~12 mm around the cube);
    without it the policy learned that scatter: in Triple Stack 40-50% of its greedy grasps
    and places on held-out states were > 12 mm off the target cube, and a grasp that far off
    can tilt the cube in the hand so that the next place topples (docs/results.md)."""
    batch_size: int = 128
    lr: float = 1e-3
    explore_eps: float = 0.1
    """Floor of the per-goal, count-based probability of a uniform random action."""
    set_down_exploring: bool = True
    """While exploring, set a cube held against the plan down on a free spot (False: the
    policy acts with it in hand, as the paper's agent; greedy acting always sets it down).
    ``langstack reproduce reuse`` collects with False: see ``experiments.agent``."""
    eval_every: int = 2_000
    """Env steps between curve evaluations."""
    eval_episodes: int = 20
    final_eval_episodes: int = 100
    target_success: float | None = 0.95
    """Stop early once a curve evaluation reaches this success rate and a confirmation on
    ``confirm_episodes`` other fresh seeds agrees (None: always spend the budget)."""
    min_env_steps: int = 0
    """No early stop before this many env steps: the run keeps collecting after it reached
    ``target_success`` (an earlier task of ``langstack reproduce reuse`` whose episodes a later
    task imports; the learning curve and its steps to 50% are unchanged)."""
    confirm_episodes: int = 50
    """A 20-episode curve point is noisy (0.95 there was 0.73 on 100 episodes): before an
    early stop, the same weights are evaluated on this many other fresh seeds."""
    d_model: int = 96
    n_layers: int = 2
    detector_path: str | None = None
    video: bool = True
    reuse_from: tuple[str, ...] = ()
    """Run or episode-store dirs of earlier tasks whose episodes are re-scored against this
    task's sub-goals and imported (the paper's lifelong data reuse, Sec. 5.2)."""

    also: tuple[str, ...] = ()
    """Further instructions learned in the same run (one multi-skill policy): episodes and
    eval seeds rotate over ``task`` and these; the success rate is over all of them."""

    def __post_init__(self) -> None:
        self.reuse_from = tuple(self.reuse_from)  # a list when read back from config.json
        self.also = tuple(self.also)
        if self.also and self.agent == "baseline":
            raise ValueError("--also (several instructions) needs --agent framework: the "
                             "baseline learns one task from its env reward")
        if self.reuse_from and self.agent == "baseline":
            raise ValueError("--reuse-from needs --agent framework: the baseline has no "
                             "sub-goals to re-score against")


def train(cfg: TrainConfig, run: RunDir, resume: bool = False, progress: bool = True) -> dict[str, Any]:
    """Run Collect & Infer in ``run``; returns the final result record."""
    import torch

    from policy.checkpoint import load_policy, save_policy
    from policy.model import PolicyConfig, make_policy

    torch.manual_seed(cfg.seed)
    wall0 = time.time()
    cfg = pin_detector(cfg, run, resume)
    plan, goal_embeddings, detector_path = _plan_and_goals(cfg)
    space_low, space_high = _action_bounds()
    frame_low, frame_high = _spawn_bounds()
    policy_config = asdict(PolicyConfig(
        goal_dim=len(next(iter(goal_embeddings.values()))), action_low=space_low,
        action_high=space_high, frame_low=frame_low, frame_high=frame_high,
        d_model=cfg.d_model, n_layers=cfg.n_layers, dropout=0.0))
    if resume and run.checkpoint.exists():
        policy = load_policy(run.checkpoint)
    else:
        policy = make_policy(PolicyConfig(**policy_config), seed=cfg.seed)
    run.write_config({"train": asdict(cfg), "plan": plan, "policy": policy_config})

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

    spec = ActorSpec(cfg.task, tuple(plan), goal_embeddings, policy_config,
                     "none" if cfg.agent == "baseline" else cfg.detector, detector_path,
                     cfg.horizon, cfg.explore_eps, more_tasks=_more_tasks(cfg),
                     set_down_exploring=cfg.set_down_exploring)
    actors = ActorPool(spec, cfg.actors)
    eval_seeds = fresh_seeds(cfg.seed, CURVE_SEEDS, cfg.eval_episodes)
    confirm_seeds = fresh_seeds(cfg.seed, CONFIRM_SEEDS, cfg.confirm_episodes)
    next_eval = (curve[-1][0] // cfg.eval_every + 1) * cfg.eval_every if curve else 0
    bar = tqdm(total=cfg.max_env_steps, initial=min(env_steps, cfg.max_env_steps), unit="step",
               desc=f"collect & infer ({cfg.agent})", disable=not progress)
    weights = _weights(policy)

    def wall() -> float:
        return wall_before + time.time() - wall0

    def seeds(n: int) -> list[int]:
        return [cfg.seed * TRAIN_SEED_BASE + n + i for i in range(cfg.episodes_per_round)]

    def commit(rollouts: list, steps: int, episodes: int) -> tuple[int, int]:
        for r in rollouts:
            store.append(r.episode)  # committed: survives kill -9
            data.add(r.episode, episode_labels(r.episode, cfg.agent))  # Infer
            steps += r.episode.T
        return steps, episodes + len(rollouts)

    overlap = cfg.overlap and cfg.actors > 1
    ahead = None  # a round the actors are collecting while the learner trains
    with InterruptFlag() as interrupt:  # a Ctrl-C ends the loop after its round
        while env_steps < cfg.max_env_steps and not interrupt.requested:
            if env_steps >= next_eval:  # the learning curve: greedy success on fixed fresh seeds
                rate = float(np.mean(actors.evaluate(eval_seeds, weights)))
                curve.append((env_steps, rate))
                run.log({"kind": "eval", "env_steps": env_steps, "eval_success_rate": rate,
                         "eval_episodes": len(eval_seeds), "wall_s": wall()})
                next_eval = env_steps + cfg.eval_every
                bar.set_postfix(eval=f"{rate:.2f}", labels=len(data))
                if (cfg.target_success is not None and rate >= cfg.target_success
                        and env_steps >= cfg.min_env_steps):
                    confirm = float(np.mean(actors.evaluate(confirm_seeds, weights)))
                    run.log({"kind": "confirm", "env_steps": env_steps, "success_rate": confirm,
                             "episodes": len(confirm_seeds), "wall_s": wall()})
                    if confirm >= cfg.target_success:
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
                weights = _weights(policy)
            run.log({"kind": "round", "env_steps": env_steps, "episodes": n_episodes,
                     "collect_success_rate": float(np.mean([r.success for r in rollouts])),
                     "labelled_steps": len(data),
                     "bc_loss": float(np.mean(losses)) if losses else 0.0,
                     "label_counts": data.counts(), "wall_s": wall()})
    if ahead is not None:  # stopped early: the round already collected still counts
        env_steps, n_episodes = commit(ahead.result(), env_steps, n_episodes)
    bar.close()
    if interrupt.requested:  # Ctrl-C: every collected episode is committed; --resume goes on
        actors.close()
        store.close()
        run.close()
        raise KeyboardInterrupt

    final_seeds = fresh_seeds(cfg.seed, FINAL_SEEDS, cfg.final_eval_episodes)
    final = float(np.mean(actors.evaluate(final_seeds, weights)))
    actors.close()
    store.close()
    save_policy(policy, run.checkpoint)
    result = {"env_steps": env_steps, "eval_success_rate": final,
              "steps_to_50": next((s for s, r in curve if r >= 0.5), None),
              "wall_s": wall(), "run_dir": str(run.root), "episodes": n_episodes}
    run.log({"kind": "final", **result})
    plot_curves({f"{cfg.agent} ({cfg.detector})": curve}, run.curve_png, cfg.task)
    if cfg.video:
        result["video"] = str(record_video(spec, policy, run.root / "eval.mp4", final_seeds[:2]))
    run.close()
    return result


class InterruptFlag:
    """Ctrl-C ends training after the current round (a second Ctrl-C interrupts at once).

    Raising mid-round could leave Ray actors with work in flight; with several actors an
    interrupt arriving there was seen to be lost, and the run went on."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None

    def __enter__(self) -> "InterruptFlag":
        """Catch SIGINT (only possible from the main thread; elsewhere a no-op)."""
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.restore()

    def _handle(self, signum: int, frame: Any) -> None:
        self.requested = True
        print("\ninterrupted: finishing this round (Ctrl-C again to stop at once)",
              file=sys.stderr, flush=True)
        self.restore()

    def restore(self) -> None:
        """Put the previous SIGINT handler back."""
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None


def _learn(policy, data: ImitationData, cfg: TrainConfig, n_episodes: int) -> list[float]:
    """One behaviour-cloning round on every labelled step; returns the losses."""
    from policy.bc import BCConfig, train_bc

    bc = BCConfig(steps=cfg.bc_steps_per_round, batch_size=cfg.batch_size, lr=cfg.lr,
                  seed=cfg.seed * 7919 + n_episodes, min_lr_ratio=1.0,
                  translate=cfg.bc_translate)
    return train_bc(policy, data.dataset(), bc)


def pin_detector(cfg: TrainConfig, run: RunDir, resume: bool) -> TrainConfig:
    """``cfg`` with the detector checkpoint the run uses written out, never None.

    The goal tokens are the detector's text embeddings, so a run keeps the detector it was
    made with: a resume takes the stored path (a different ``--detector-path`` is an error),
    and a new run records the path of today's default, which a later default (another
    build version) does not change. Runs recorded without a path use today's default.
    """
    stored = None
    if resume and run.config_path.exists():
        stored = run.read_config()["train"].get("detector_path")
    if stored and cfg.detector_path and Path(stored).resolve() != Path(cfg.detector_path).resolve():
        raise ValueError(f"{run.root} was trained with the detector at {stored}; its policy's "
                         f"goal tokens come from that detector, so it cannot resume with "
                         f"{cfg.detector_path}")
    if stored or cfg.detector_path:
        return replace(cfg, detector_path=stored or cfg.detector_path)
    from perception.loader import ensure_default_detector

    return replace(cfg, detector_path=str(ensure_default_detector()))  # built on first use


def _plan_and_goals(cfg: TrainConfig) -> tuple[list[str], dict[str, np.ndarray], str | None]:
    """Sub-goals from the planner and goal embeddings from the CLIP text encoder."""
    from perception import load_detector
    from perception.captions import CAPTIONS

    detector = load_detector(cfg.detector_path, device="cpu", build_if_missing=True)
    text = detector.text_embeddings(list(CAPTIONS))
    if cfg.agent == "baseline":  # one fixed goal vector: the task itself, no sub-goals
        digest = hashlib.sha256(cfg.task.encode()).digest()
        rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
        goal = rng.normal(size=text.shape[1]).astype(np.float32)
        return [cfg.task], {cfg.task: goal / np.linalg.norm(goal)}, cfg.detector_path
    plan = _planner(cfg.planner).plan(cfg.task)
    # Goals are the captions' text embeddings centred over the vocabulary: what the captions
    # share ("the ... object") says nothing about which sub-goal is meant.
    goals = text - text.mean(axis=0, keepdims=True)
    # actors load the same detector: the user's path, or (None) the cached default just built
    return plan, dict(zip(CAPTIONS, goals.astype(np.float32))), cfg.detector_path


def _more_tasks(cfg: TrainConfig) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(instruction, plan) of every further instruction of a multi-skill run."""
    return tuple((task, tuple(_planner(cfg.planner).plan(task))) for task in cfg.also)


@functools.lru_cache(maxsize=None)
def _planner(kind: str):
    """One planner of each kind per process (FLAN-T5 weights are loaded once, not per task)."""
    from planner import make_planner

    return make_planner(kind)


def _action_bounds() -> tuple[tuple[float, float], tuple[float, float]]:
    """(x, y) corners of the action box: the spawn rectangle plus the arm's reach margin."""
    from sim import Workspace

    ws = Workspace()
    return _corners(ws.action_low, ws.action_high)


def _spawn_bounds() -> tuple[tuple[float, float], tuple[float, float]]:
    """(x, y) corners of the rectangle the cubes spawn in (the policy's position scale)."""
    from sim import Workspace

    ws = Workspace()
    return _corners(ws.low, ws.high)


def _corners(low: Any, high: Any) -> tuple[tuple[float, float], tuple[float, float]]:
    return (float(low[0]), float(low[1])), (float(high[0]), float(high[1]))


def _weights(policy) -> dict[str, np.ndarray]:
    return {k: v.detach().cpu().numpy().copy() for k, v in policy.state_dict().items()}


def record_video(spec: ActorSpec, policy, path: Path, seeds: list[int],
                 detector: Any = None) -> Path:
    """Greedy episodes from both cameras, with mid-motion frames, to an mp4.
    ``detector``: one already loaded for ``spec`` (default: load it here)."""
    from experiments.agent import SubgoalAgent
    from experiments.detectors import make_detector
    from experiments.collect import run_episode
    from experiments.video import tile, write_video
    from sim import EnvConfig, make_env

    env = make_env(spec.instruction, EnvConfig(horizon=spec.horizon, render=True, motion_frames=6))
    ws = env.config.workspace
    agent = SubgoalAgent(spec.plan, spec.goal_embeddings, policy, ws.low, ws.high, 0.0)
    if detector is None:
        detector = make_detector(spec.detector, spec.detector_path)
    frames = []
    for s in seeds:
        rollout = run_episode(env, agent, detector, s, explore=False, record=True)
        frames += [tile(f) for f in rollout.frames] + [tile(rollout.frames[-1])] * 6
    env.close()
    write_video(path, frames)
    return path
