"""The physics-aware plan decoder on synthetic score sequences (no video, no detector)."""
from __future__ import annotations

import numpy as np
import pytest

from experiments.imitation.decode import DecodeConfig, Scene, decode, plan_of, scenes
from perception.captions import CAPTIONS, grasp_caption, on_top_caption
from planner import GrammarPlanner

GAMMA = 0.12
ON, OFF = 0.45, -0.25
EMPTY = Scene(None, frozenset())


def held(x: str, *on: tuple[str, str]) -> Scene:
    return Scene(x, frozenset(on))


def rest(*on: tuple[str, str]) -> Scene:
    return Scene(None, frozenset(on))


def timeline(*segments: tuple[Scene, int], noise: float = 0.05, seed: int = 0) -> np.ndarray:
    """(T, K) scores of a scene timeline: ON for the scene's captions, OFF otherwise, + noise."""
    rows = []
    for scene, n in segments:
        truth = scene.captions()
        rows += [[ON if c in truth else OFF for c in CAPTIONS]] * n
    rng = np.random.default_rng(seed)
    return np.asarray(rows) + rng.normal(0, noise, (len(rows), len(CAPTIONS)))


RED_ON_BLUE = [(EMPTY, 8), (held("red"), 8), (rest(("red", "blue")), 8)]
TOWER = [(EMPTY, 6), (held("green"), 6), (rest(("green", "blue")), 6),
         (held("red", ("green", "blue")), 6), (rest(("green", "blue"), ("red", "green")), 8)]


def test_there_are_22_scenes_of_three_cubes_and_none_is_impossible() -> None:
    found = scenes()
    assert len(found) == 22  # 13 arrangements with nothing held + 3 held cubes x 3 arrangements
    for s in found:
        assert s.held is None or all(s.held not in pair for pair in s.on)
        tops = [x for x, _ in s.on]
        bottoms = [y for _, y in s.on]
        assert len(set(tops)) == len(tops) and len(set(bottoms)) == len(bottoms)


@pytest.mark.parametrize("instruction, segments", [
    ("stack the red object on top of the blue object", RED_ON_BLUE),
    ("stack all three objects", TOWER),  # the grammar's tower: green on blue, red on green
    ("grasp the green object", [(EMPTY, 10), (held("green"), 10)]),
])
def test_clean_timelines_read_as_the_planners_plan_with_high_confidence(instruction,
                                                                         segments) -> None:
    d = decode(timeline(*segments), GAMMA)
    assert d.plan == GrammarPlanner().plan(instruction)
    assert d.confidence > 0.95 and d.readable(DecodeConfig())


def test_idle_frames_at_both_ends_change_nothing() -> None:
    d = decode(timeline((EMPTY, 60), *RED_ON_BLUE, (rest(("red", "blue")), 60)), GAMMA)
    assert d.plan == [grasp_caption("red"), on_top_caption("red", "blue")]
    assert [what for _, what in d.changes] == ["grasp red", "put red on blue"]


def test_flicker_of_single_frames_is_ignored() -> None:
    scores = timeline(*RED_ON_BLUE)
    for t in (2, 11, 20):  # one-frame false detections of other captions
        scores[t, CAPTIONS.index(on_top_caption("green", "red"))] = ON
        scores[t, CAPTIONS.index(grasp_caption("blue"))] = ON
    d = decode(scores, GAMMA)
    assert d.plan == [grasp_caption("red"), on_top_caption("red", "blue")]
    assert d.confidence > 0.9


def test_a_stack_seen_without_its_grasp_still_implies_the_grasp() -> None:
    """Occlusion: the grasp was never seen; a cube cannot be stacked without being held."""
    d = decode(timeline((EMPTY, 10), (rest(("red", "blue")), 10)), GAMMA)
    assert d.plan == [grasp_caption("red"), on_top_caption("red", "blue")]
    assert ", ".join(what for _, what in d.changes) == "grasp red, put red on blue"


def test_occluded_frames_in_the_middle_do_not_break_the_stack() -> None:
    scores = timeline(*TOWER)
    scores[14:20] = OFF  # every caption silent for six frames (the arm hides the stack)
    d = decode(scores, GAMMA)
    assert d.plan == plan_of(rest(("green", "blue"), ("red", "green")))


def test_impossible_readings_are_resolved_by_physics() -> None:
    """Two cubes 'held' at once and a cube on top of two cubes: only one reading survives."""
    scores = timeline(*RED_ON_BLUE)
    scores[8:16, CAPTIONS.index(grasp_caption("green"))] = 0.2  # weaker second grasp
    scores[16:, CAPTIONS.index(on_top_caption("red", "green"))] = 0.2  # weaker second support
    d = decode(scores, GAMMA)
    assert d.plan == [grasp_caption("red"), on_top_caption("red", "blue")]
    for s in d.path:
        assert s in scenes()


def test_ambiguous_video_is_not_trusted() -> None:
    scores = timeline(*RED_ON_BLUE)
    both = [CAPTIONS.index(on_top_caption("red", "blue")), CAPTIONS.index(on_top_caption("red", "green"))]
    scores[16:, both] = GAMMA + 0.01  # the two readings of the last frames are equally likely
    d = decode(scores, GAMMA)
    assert d.confidence < 0.8 and not d.readable(DecodeConfig())
    assert "likely" in d.reason and d.alternatives


def test_a_video_showing_nothing_has_no_plan_and_says_why() -> None:
    d = decode(timeline((EMPTY, 30)), GAMMA)
    assert d.plan == [] and not d.readable(DecodeConfig())
    assert "nothing stacked" in d.reason


def test_a_stack_undone_before_the_end_is_not_the_plan() -> None:
    d = decode(timeline(*RED_ON_BLUE, (held("red"), 6), (EMPTY, 10), (held("green"), 10)), GAMMA)
    assert d.plan == [grasp_caption("green")]


def test_bad_score_shapes_and_configs_are_value_errors() -> None:
    with pytest.raises(ValueError, match="scores must be"):
        decode(np.zeros((5, 4)), GAMMA)
    with pytest.raises(ValueError, match="scores must be"):
        decode(np.zeros((0, len(CAPTIONS))), GAMMA)
    with pytest.raises(ValueError, match="min_confidence"):
        DecodeConfig(min_confidence=2.0)
