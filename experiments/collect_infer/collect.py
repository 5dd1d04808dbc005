"""Collect: run the agent for one episode and record what Infer needs.

Per step the episode keeps the state, the frames' image embeddings (CLIP detector), the
action, the sub-goal pursued and the env reward; ``meta["detected"]`` keeps the captions the
detector judged true after every step (index 0: the initial frames).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from experiments.collect_infer.agent import SubgoalAgent
from experiments.collect_infer.detectors import SubgoalDetector
from policy.episode import Episode


@dataclass
class Rollout:
    """One episode plus what evaluation reports about it."""

    episode: Episode
    success: bool
    frames: list[np.ndarray] = field(default_factory=list)
    """Camera frames (n_cams, H, W, 3) per step, including mid-motion ones, when recorded."""


def run_episode(env: Any, agent: SubgoalAgent, detector: SubgoalDetector | None, seed: int,
                explore: bool, record: bool = False, meta: dict[str, Any] | None = None,
                task: Any = None) -> Rollout:
    """One episode (of ``task``, a ``sim.Task``, if given, else the env's task).
    ``detector=None`` (the env-reward baseline) detects nothing."""
    options = {"task": task} if task is not None else None
    obs, info = env.reset(seed=seed, options=options)
    emb, detected = _observe(detector, obs, info)
    agent.reset()
    agent.update(detected)
    states, embs, dets = [obs["state"]], [emb], [sorted(detected)]
    actions, pursued, rewards = [], [], []
    frames = [obs["rgb"]] if record else []
    for _ in range(env.unwrapped.config.horizon):
        if agent.done:
            break
        goal = agent.current
        action = agent.act(obs["state"], explore=explore)
        obs, reward, terminated, truncated, info = env.step(action)
        emb, detected = _observe(detector, obs, info)
        agent.update(detected)
        states.append(obs["state"])
        embs.append(emb)
        dets.append(sorted(detected))
        actions.append(action)
        pursued.append(goal)
        rewards.append(reward)
        if record:
            frames += list(info.get("motion_frames", [])) + [obs["rgb"]]
        if terminated or truncated:
            break
    success = bool(sum(rewards) > 0)
    episode = Episode(
        task=info["instruction"], states=np.stack(states).astype(np.float32),
        actions=np.asarray(actions, np.float32).reshape(-1, 2), pursued=pursued,
        env_rewards=np.asarray(rewards, np.float32),
        frame_embs=None if embs[0] is None else np.stack(embs).astype(np.float32),
        meta={"seed": int(seed), "detected": dets, "success": success,
              "agent_done": agent.done, **_embedded_by(detector, embs[0]), **(meta or {})})
    return Rollout(episode, success, frames)


def _observe(detector: SubgoalDetector | None, obs: dict, info: dict) -> tuple[Any, set[str]]:
    if detector is None:
        return None, set()
    return detector.observe(obs.get("rgb"), info)


def evaluate(env: Any, agent: SubgoalAgent, detector: SubgoalDetector | None,
             seeds: list[int]) -> list[bool]:
    """Greedy (no exploration) success per fresh seed."""
    return [run_episode(env, agent, detector, s, explore=False).success for s in seeds]


def _embedded_by(detector: SubgoalDetector | None, emb: np.ndarray | None) -> dict[str, Any]:
    """``{"detector_sha256": ...}`` when the episode stores frame embeddings: which weights
    made them (re-scoring with another detector is refused, see ``reuse.redetect``)."""
    if emb is None:
        return {}
    return {"detector_sha256": getattr(detector, "identity", None)}
