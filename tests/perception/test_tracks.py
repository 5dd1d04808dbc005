"""Caption evidence from cube tracks, on synthetic tracks (no video, no model)."""
from __future__ import annotations

import numpy as np
import pytest

from experiments.imitation.decode import decode
from perception.captions import CAPTIONS, ON_TOP_RE, grasp_caption, on_top_caption
from perception.tracks import TrackConfig, track_evidence
from planner import GrammarPlanner

HW = (240, 320)
START = np.array([[0.6, 0.3], [0.5, 0.5], [0.62, 0.7]])  # red, green, blue (row, col)
UP = np.array([-0.06, 0.0])  # one cube height up the picture
SIDE = np.array([0.0, 0.06 * HW[0] / HW[1]])  # one cube side across it (as long as UP)


def carry(track: list[np.ndarray], cube: int, to: np.ndarray, frames: int = 12,
          rest: int = 10) -> None:
    """Append frames in which ``cube`` is lifted, carried to ``to`` and left there."""
    now = track[-1]
    lift = now[cube] + 2 * UP
    for t in range(1, frames + 1):
        f = now.copy()
        a = t / frames
        f[cube] = (1 - a) * lift + a * (to + UP) if t > 2 else now[cube] + UP * t
        track.append(f)
    for _ in range(rest):
        f = track[-1].copy()
        f[cube] = to
        track.append(f)


def noisy(track: list[np.ndarray], sigma: float = 0.004, seed: int = 0) -> np.ndarray:
    pts = np.stack(track)
    return pts + np.random.default_rng(seed).normal(0, sigma, pts.shape)


def looks(points: np.ndarray, up: np.ndarray = UP, side: np.ndarray = SIDE) -> np.ndarray:
    """The localiser's geometry of every cube in every frame: the same size everywhere."""
    return np.broadcast_to(np.concatenate([up, side]), (*points.shape[:2], 4)).copy()


def evidence(points: np.ndarray, **kw) -> np.ndarray:
    return track_evidence(points, looks(points, **kw), HW)


def idle(n: int = 10) -> list[np.ndarray]:
    return [START.copy() for _ in range(n)]


def column(caption: str) -> int:
    return CAPTIONS.index(caption)


def test_a_cube_carried_next_to_another_is_on_it_and_was_held_on_the_way() -> None:
    track = idle()
    carry(track, 0, START[2] + UP)  # red onto blue
    ev = evidence(noisy(track))
    end = ev[-5:].mean(0)
    assert end[column(on_top_caption("red", "blue"))] > 1.0
    for other in (on_top_caption("red", "green"), on_top_caption("blue", "red"),
                  on_top_caption("green", "blue")):
        assert end[column(other)] < -1.0, other
    assert ev[:8, column(on_top_caption("red", "blue"))].max() < 0  # not before it moved
    moving = ev[12:18, column(grasp_caption("red"))]
    assert moving.mean() > 0.5
    assert ev[12:18, column(grasp_caption("green"))].max() <= 0


@pytest.mark.parametrize("instruction", ["stack the red object on top of the blue object",
                                         "stack all three objects"])
def test_tracks_alone_read_the_plan_when_the_scorer_says_nothing(instruction) -> None:
    plan = GrammarPlanner().plan(instruction)
    track = idle()
    colours = ["red", "green", "blue"]
    for caption in plan:
        if m := ON_TOP_RE.match(caption):
            x, y = colours.index(m.group(1)), colours.index(m.group(2))
            carry(track, x, track[-1][y] + UP)
    ev = evidence(noisy(track))
    blind = np.full((len(ev), len(CAPTIONS)), 0.2)  # every score at gamma: no evidence
    assert decode(blind, 0.2, evidence=ev).plan == plan


def test_a_tower_of_cubes_that_started_close_together_is_read_in_any_scale() -> None:
    """The length scale is a cube side, not where the cubes happened to spawn: cubes two
    sides apart build a tower whose steps are one cube height, and the tracks alone read it,
    at this size and at a third of it (a camera three times as far)."""
    plan = GrammarPlanner().plan("stack all three objects")
    for scale in (1.0, 1 / 3):
        up, side = UP * scale, SIDE * scale
        start = np.array([0.6, 0.5]) + np.array([[0, -2.0], [0, 0.0], [0, 2.0]]) * side
        track = [start.copy() for _ in range(10)]
        colours = ["red", "green", "blue"]
        for caption in plan:
            if m := ON_TOP_RE.match(caption):
                x, y = colours.index(m.group(1)), colours.index(m.group(2))
                now = track[-1]
                for t in range(1, 9):  # lifted, carried over, set down one height above
                    f = now.copy()
                    f[x] = now[x] + (now[y] + up - now[x]) * t / 8 + 2 * up * np.sin(np.pi * t / 8)
                    track.append(f)
                track += [track[-1].copy() for _ in range(8)]
        pts = noisy(track, sigma=0.002 * scale)
        ev = track_evidence(pts, looks(pts, up, side), HW)
        blind = np.full((len(ev), len(CAPTIONS)), 0.2)
        assert decode(blind, 0.2, evidence=ev).plan == plan, scale


def test_bad_points_are_refused() -> None:
    with pytest.raises(ValueError, match="points must be"):
        track_evidence(np.zeros((5, 2, 2)), np.zeros((5, 2, 4)), HW)
    with pytest.raises(ValueError, match="geometry must be"):
        track_evidence(np.zeros((5, 3, 2)), np.zeros((4, 3, 4)), HW)
    with pytest.raises(ValueError, match="lag"):
        TrackConfig(lag=0)
