"""Reading a plan off frame scores with what physics allows (an HMM over symbolic states).

The hidden state of a frame is the symbolic scene: which cube is held (at most one) and which
cube rests on which. From one frame to the next the scene stays as it is or changes by one
move a robot can make (two when frames were subsampled or dropped):

    grasp x     nothing is held and nothing rests on x   ->  x is held (lifted off its support)
    place x     x is held                                 ->  x rests on the table or on a clear cube

so a cube is stacked only after it was held, one cube is held at a time and a covered cube
cannot be grasped. Each frame's caption scores are the observations: a caption whose
predicate holds in the state is evidence ``+z``, one that does not ``-z`` is not needed (the
log-likelihood ratio form), with ``z = clip((score - gamma) / scale, +-clip)`` tempered by
``evidence_weight`` (neighbouring frames are far from independent); a second witness (the
video reader's cube tracks, :mod:`perception.tracks`) adds its own evidence to ``z`` before
the tempering. Viterbi gives the most likely state sequence; the plan is what its last
state shows (each tower bottom-up in the planner's format, then the cube still held), and the
confidence is the posterior probability (forward algorithm) that the video ends in a state
with that plan.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from perception.captions import CAPTIONS, COLORS, GRASP_RE, ON_TOP_RE, grasp_caption, on_top_caption


@dataclass(frozen=True)
class DecodeConfig:
    """How frame scores are weighed against the physics prior."""

    scale: float = 0.1
    """Score units per unit of log-likelihood ratio (the detector's on/off scores lie ~0.6 apart)."""
    clip: float = 3.0
    """Bound on one frame's evidence about one caption (glare, occlusion, a stray arm colour)."""
    evidence_weight: float = 0.35
    """Tempering of every frame's evidence: consecutive frames are strongly correlated."""
    switch_cost: float = 4.0
    """Log-penalty of one move between consecutive frames (suppresses flicker)."""
    min_confidence: float = 0.8
    """Below this posterior probability the video is reported as unreadable."""

    def __post_init__(self) -> None:
        if min(self.scale, self.clip, self.evidence_weight) <= 0 or self.switch_cost < 0:
            raise ValueError("scale, clip and evidence_weight must be > 0 and switch_cost >= 0")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ValueError(f"min_confidence must be in [0, 1], got {self.min_confidence}")


@dataclass(frozen=True, order=True)
class Scene:
    """A symbolic scene: the held cube (or None) and the (top, bottom) pairs that rest."""

    held: str | None
    on: frozenset[tuple[str, str]]

    def captions(self) -> set[str]:
        """The captions true in this scene."""
        out = {on_top_caption(x, y) for x, y in self.on}
        return out | ({grasp_caption(self.held)} if self.held else set())

    def clear(self, cube: str) -> bool:
        """Nothing rests on ``cube`` and it is not held."""
        return cube != self.held and all(y != cube for _, y in self.on)

    def moves(self, cubes: Sequence[str]) -> set["Scene"]:
        """Scenes one grasp or one placement away."""
        if self.held is None:
            return {Scene(x, frozenset(p for p in self.on if p[0] != x))
                    for x in cubes if self.clear(x)}
        x = self.held
        placed = {Scene(None, self.on)}  # on the table
        return placed | {Scene(None, self.on | {(x, y)}) for y in cubes
                         if y != x and self.clear(y)}


@dataclass
class Decoded:
    """The plan a score sequence shows, how sure the decoder is, and the timeline behind it."""

    plan: list[str]
    confidence: float
    """Posterior probability that the video ends in a scene with this plan."""
    path: list[Scene] = field(default_factory=list)
    """Viterbi scene of every frame."""
    changes: list[tuple[int, str]] = field(default_factory=list)
    """(frame, what happened) at each change of the Viterbi path, e.g. (12, "grasp red")."""
    alternatives: list[tuple[list[str], float]] = field(default_factory=list)
    """Other plans with their posterior probability, most likely first (at most 3)."""
    reason: str = ""
    """Why the plan is not to be trusted (empty when it is)."""

    def readable(self, cfg: DecodeConfig) -> bool:
        """Whether the plan may be acted on."""
        return bool(self.plan) and self.confidence >= cfg.min_confidence


def scenes(cubes: Sequence[str] = COLORS) -> list[Scene]:
    """Every physically possible scene of ``cubes`` (at most one held; towers, no cycles)."""
    found: set[Scene] = set()
    frontier = [Scene(None, frozenset())]
    while frontier:
        s = frontier.pop()
        if s not in found:
            found.add(s)
            frontier.extend(s.moves(cubes))
    return sorted(found, key=lambda s: (s.held is not None, len(s.on), s.held or "", sorted(s.on)))


def plan_of(scene: Scene) -> list[str]:
    """The planner-format plan that ends in ``scene``: each tower bottom-up (grasp the cube,
    then put it on the one below), then the grasp of the cube still held."""
    plan: list[str] = []
    below = {x: y for x, y in scene.on}
    bases = sorted({y for y in below.values() if y not in below})
    above = {y: x for x, y in scene.on}
    for base in bases:
        y = base
        while y in above:
            x = above[y]
            plan += [grasp_caption(x), on_top_caption(x, y)]
            y = x
    if scene.held:
        plan.append(grasp_caption(scene.held))
    return plan


def _transitions(states: list[Scene], cubes: Sequence[str], cost: float) -> np.ndarray:
    """(S, S) log-weights: 0 to stay, -cost for one move, -2 cost for two, -inf otherwise."""
    index = {s: i for i, s in enumerate(states)}
    one = np.zeros((len(states),) * 2, dtype=bool)
    for i, s in enumerate(states):
        for t in s.moves(cubes):
            one[i, index[t]] = True
    two = (one.astype(int) @ one.astype(int)) > 0
    logw = np.full(one.shape, -np.inf)
    logw[two] = -2 * cost
    logw[one] = -cost
    np.fill_diagonal(logw, 0.0)
    return logw


def _evidence(scores: np.ndarray, gamma: float, states: list[Scene], captions: Sequence[str],
              cfg: DecodeConfig, extra: np.ndarray | None = None) -> np.ndarray:
    """(T, S) log-likelihood (up to a per-frame constant) of every frame under every scene."""
    z = np.clip((np.asarray(scores, dtype=np.float64) - gamma) / cfg.scale, -cfg.clip, cfg.clip)
    if extra is not None:
        z = z + extra
    truth = np.array([[c in s.captions() for c in captions] for s in states], dtype=np.float64)
    return cfg.evidence_weight * (z @ truth.T)  # (T, K) @ (K, S)


def _logsumexp(a: np.ndarray, axis: int) -> np.ndarray:
    m = np.max(a, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    return np.squeeze(m, axis) + np.log(np.sum(np.exp(a - m), axis=axis))


def decode(scores: np.ndarray, gamma: float, captions: Sequence[str] = CAPTIONS,
           cfg: DecodeConfig | None = None, evidence: np.ndarray | None = None) -> Decoded:
    """The plan (T, K) frame scores of ``captions`` show, read with the physics prior;
    ``evidence``: (T, K) further evidence from another witness (e.g. the cube tracks,
    :func:`perception.tracks.track_evidence`) in the same log-likelihood-ratio units as
    one frame's clipped score, added to it."""
    cfg = cfg or DecodeConfig()
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2 or scores.shape[1] != len(captions) or len(scores) == 0:
        raise ValueError(f"scores must be (T >= 1, {len(captions)}), got {scores.shape}")
    if evidence is not None and np.shape(evidence) != scores.shape:
        raise ValueError(f"evidence must match the scores' shape {scores.shape}, "
                         f"got {np.shape(evidence)}")
    cubes = _cubes(captions)
    states = scenes(cubes)
    logw = _transitions(states, cubes, cfg.switch_cost)
    ev = _evidence(scores, gamma, states, captions, cfg, evidence)
    prior = np.array([0.0 if not s.on and s.held is None else -cfg.switch_cost for s in states])
    path = _viterbi(prior + ev[0], logw, ev)
    posterior = _final_posterior(prior + ev[0], logw, ev)
    by_plan: dict[tuple[str, ...], float] = {}
    for s, p in zip(states, posterior):
        key = tuple(plan_of(s))
        by_plan[key] = by_plan.get(key, 0.0) + float(p)
    plan = plan_of(states[path[-1]])
    ranked = sorted(by_plan.items(), key=lambda kv: -kv[1])
    out = Decoded(plan, by_plan[tuple(plan)], [states[i] for i in path],
                  _changes([states[i] for i in path]),
                  [(list(k), v) for k, v in ranked if list(k) != plan][:3])
    out.reason = _reason(out, cfg)
    return out


def _cubes(captions: Sequence[str]) -> list[str]:
    """The cubes the captions name, in vocabulary order."""
    cubes: list[str] = []
    for c in captions:
        m = GRASP_RE.match(c) or ON_TOP_RE.match(c)
        if m is None:
            raise ValueError(f"not a sub-goal caption: {c!r}")
        cubes += [g for g in m.groups() if g not in cubes]
    return cubes


def _viterbi(first: np.ndarray, logw: np.ndarray, ev: np.ndarray) -> list[int]:
    """Most likely state index per frame."""
    delta, back = first, np.zeros(ev.shape, dtype=int)
    for t in range(1, len(ev)):
        cand = delta[:, None] + logw  # (from, to)
        back[t] = np.argmax(cand, axis=0)
        delta = cand[back[t], np.arange(len(delta))] + ev[t]
    path = [int(np.argmax(delta))]
    for t in range(len(ev) - 1, 0, -1):
        path.append(int(back[t, path[-1]]))
    return path[::-1]


def _final_posterior(first: np.ndarray, logw: np.ndarray, ev: np.ndarray) -> np.ndarray:
    """P(last state | all frames) by the forward algorithm, in log space."""
    alpha = first
    for t in range(1, len(ev)):
        alpha = _logsumexp(alpha[:, None] + logw, axis=0) + ev[t]
    return np.exp(alpha - _logsumexp(alpha, axis=0))


def _changes(path: list[Scene]) -> list[tuple[int, str]]:
    """(frame, moves) wherever the path changes; a change of two moves names both."""
    out = []
    for t in range(1, len(path)):
        a, b = path[t - 1], path[t]
        if a != b:
            out.append((t, ", ".join(_moves(a, b))))
    return out


def _moves(a: Scene, b: Scene) -> list[str]:
    """The grasps and placements that turn scene ``a`` into ``b``."""
    new = sorted(b.on - a.on)
    tops = {x for x, _ in new}
    parts = []
    if a.held and a.held != b.held and a.held not in tops:
        parts.append(f"put {a.held} on the table")
    for x, _ in sorted(a.on - b.on):  # lifted off and set down elsewhere unseen
        if x != b.held and x not in tops:
            parts += [f"grasp {x}", f"put {x} on the table"]
    for x, y in new:
        parts += ([] if x == a.held else [f"grasp {x}"]) + [f"put {x} on {y}"]
    if b.held and b.held != a.held:
        parts.append(f"grasp {b.held}")
    return parts


def _reason(d: Decoded, cfg: DecodeConfig) -> str:
    if not d.plan:
        return "the video ends with nothing stacked and nothing held"
    if d.confidence < cfg.min_confidence:
        alt = f"; next best {d.alternatives[0][0]} ({d.alternatives[0][1]:.2f})" if d.alternatives else ""
        return (f"the plan is only {d.confidence:.2f} likely (below {cfg.min_confidence:.2f})"
                + alt)
    return ""

