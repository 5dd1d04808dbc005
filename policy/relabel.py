"""Hindsight relabelling: which (step, caption) pairs of an episode become BC samples.

Pure Python; works on detector outputs, knows nothing about how captions are produced.

Conventions for an episode of T steps (actions a_0..a_{T-1}, states s_0..s_T):

- ``detected`` has length T+1; ``detected[t]`` is the set of captions judged true in the
  frames of state s_t (``detected[0]``: the initial frames; ``detected[t+1]``: the frames
  after action a_t).
- A label ``(t, c)`` means the BC sample ``(s_t, goal=c, a_t)``.

Rule (sub-goal detection, :func:`relabel_newly_detected`): caption c is *newly achieved by
action t* iff ``c in detected[t+1] and c not in detected[t]``; each such event labels the
single step t with goal c. Justification: in this action space (one pick or one place per
action) every sub-goal caption ("grasping X", "X on top of Y") is reached by one action from
a state where it was achievable, so ``(s_t, a_t)`` is a complete demonstration of c from s_t.
Earlier steps were demonstrations of other captions (they get their own labels when those were
newly achieved). Captions that were already true at s_t get no credit: a_t did not achieve
them. Several captions newly true at once each label step t. A caption that flickers off and
on again is credited each time it becomes newly true.

Rule (episode success, :func:`relabel_env_success`): if the environment reward first becomes
positive at step t (``env_rewards[t] > 0``), every step 0..t is labelled with the caption it
was pursuing; steps that pursued nothing ("") are skipped and steps after t are ignored.
"""
from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from collections.abc import Set as AbstractSet

Label = tuple[int, str]
"""(step index, caption): the BC sample (s_step, goal=caption, a_step)."""


def relabel_newly_detected(
    detected: Sequence[AbstractSet[str]], captions: Collection[str] | None = None
) -> list[Label]:
    """Labels ``(t, c)`` for every caption c newly detected after action t.

    ``captions``: if given, only these captions are credited (e.g. the task's sub-goals),
    and captions newly true at the same step are listed in this order; otherwise sorted.
    Returns labels ordered by step.
    """
    if len(detected) < 1:
        raise ValueError("detected needs at least the initial frame (length T+1 >= 1)")
    order = list(captions) if captions is not None else None
    labels: list[Label] = []
    for t in range(len(detected) - 1):
        new = set(detected[t + 1]) - set(detected[t])
        if order is None:
            labels.extend((t, c) for c in sorted(new))
        else:
            labels.extend((t, c) for c in order if c in new)
    return labels


def first_success(env_rewards: Iterable[float]) -> int | None:
    """Index of the first step with a positive environment reward, or None."""
    for t, reward in enumerate(env_rewards):
        if reward > 0:
            return t
    return None


def relabel_env_success(pursued: Sequence[str], env_rewards: Sequence[float]) -> list[Label]:
    """Labels ``(t, pursued[t])`` for steps 0..t* of the first env success t* ([] if none)."""
    if len(pursued) != len(env_rewards):
        raise ValueError(f"pursued ({len(pursued)}) and env_rewards ({len(env_rewards)}) differ")
    success = first_success(env_rewards)
    if success is None:
        return []
    return [(t, pursued[t]) for t in range(success + 1) if pursued[t]]


def merge_labels(*label_lists: Iterable[Label]) -> list[Label]:
    """Union of label lists without duplicates, ordered by step (then first appearance)."""
    seen: dict[Label, None] = {}
    for labels in label_lists:
        for label in labels:
            seen.setdefault(label, None)
    return sorted(seen, key=lambda label: label[0])
